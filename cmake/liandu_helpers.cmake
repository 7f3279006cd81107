# liandu_cc_library(NAME n SRCS ... DEPS ...): one library per module. DEPS is the
# written dependency graph: a new arrow between modules shows up here in review.
function(liandu_cc_library)
  cmake_parse_arguments(L "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${L_NAME} STATIC ${L_SRCS})
  target_include_directories(${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${L_NAME} PUBLIC ${L_DEPS})
endfunction()

# liandu_cc_test(NAME n SRCS ... DEPS ...): a GoogleTest binary registered with ctest.
function(liandu_cc_test)
  cmake_parse_arguments(L "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT LIANDU_BUILD_TESTS)
    return()
  endif()
  add_executable(${L_NAME} ${L_SRCS})
  target_link_libraries(${L_NAME} PRIVATE ${L_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  add_test(NAME ${L_NAME} COMMAND ${L_NAME})
  set_tests_properties(${L_NAME} PROPERTIES LABELS "unit;${L_LABELS}" TIMEOUT 600)
endfunction()
