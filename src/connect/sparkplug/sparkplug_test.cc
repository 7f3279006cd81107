#include <gtest/gtest.h>

#include <bit>
#include <limits>
#include <optional>
#include <type_traits>

#include "connect/sparkplug/decoder.h"
#include "connect/sparkplug/group_config.h"
#include "connect/sparkplug/sparkplug_b.pb.h"
#include "connect/sparkplug/topic.h"

namespace liandu::connect::sparkplug {
namespace {

namespace pb = org::eclipse::tahu::protobuf;
using pb_metric = pb::Payload::Metric;

constexpr int64_t ms = 1'000'000;
constexpr int64_t arrival = 1'700'000'000'000 * ms;

// A payload built with the generated classes, as an edge node would.
struct payload_builder {
  pb::Payload p;
  explicit payload_builder(std::optional<uint64_t> seq, std::optional<uint64_t> timestamp_ms = std::nullopt) {
    if (seq) p.set_seq(*seq);
    if (timestamp_ms) p.set_timestamp(*timestamp_ms);
  }
  pb_metric& metric(const char* name, std::optional<uint64_t> alias, uint32_t datatype) {
    pb_metric* m = p.add_metrics();
    if (name != nullptr) m->set_name(name);
    if (alias) m->set_alias(*alias);
    if (datatype != 0) m->set_datatype(datatype);
    return *m;
  }
  std::string bytes() const { return p.SerializeAsString(); }
};

const model::field* field(const model::point& p, std::string_view key) {
  for (const auto& f : p.fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

std::string tag(const model::point& p, std::string_view key) {
  for (const auto& t : p.tags) {
    if (t.key == key) return t.value;
  }
  return "<none>";
}

std::vector<const model::point*> of(const decoded& d, std::string_view measurement) {
  std::vector<const model::point*> out;
  for (const auto& p : d.points) {
    if (p.measurement == measurement) out.push_back(&p);
  }
  return out;
}

decoded must_decode(decoder& dec, std::string_view topic, const std::string& payload, int64_t now = arrival) {
  auto r = dec.decode(topic, payload, now);
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return r.ok() ? std::move(r).value() : decoded{};
}

// NBIRTH of edge node g1/n1: bdSeq 3, Temperature (Float, alias 1), Count
// (Int32, alias 2), Status (String, alias 3), seq `seq`.
std::string nbirth(uint64_t seq = 0) {
  payload_builder b(seq, 1'700'000'000'000);
  b.metric("bdSeq", std::nullopt, pb::Int64).set_long_value(3);
  b.metric("Node Control/Rebirth", std::nullopt, pb::Boolean).set_boolean_value(false);
  b.metric("Temperature", 1, pb::Float).set_float_value(20.5f);
  b.metric("Count", 2, pb::Int32).set_int_value(7);
  b.metric("Status", 3, pb::String).set_string_value("idle");
  return b.bytes();
}

TEST(SparkplugTopic, ParsesEdgeDeviceAndStateTopics) {
  auto t = parse_topic("spBv1.0/plant1/DDATA/gw-1/press7");
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->type, message_type::ddata);
  EXPECT_EQ(t->group, "plant1");
  EXPECT_EQ(t->edge_node, "gw-1");
  EXPECT_EQ(t->device, "press7");
  t = parse_topic("spBv1.0/plant1/NBIRTH/gw-1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->type, message_type::nbirth);
  EXPECT_FALSE(t->is_device());
  t = parse_topic("spBv1.0/STATE/scada-host");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->type, message_type::state);
  EXPECT_EQ(t->edge_node, "scada-host");
  EXPECT_EQ(node_command_topic("g", "n"), "spBv1.0/g/NCMD/n");
}

TEST(SparkplugTopic, HostStateTopicAndPayload) {
  EXPECT_EQ(host_state_topic("liandu"), "spBv1.0/STATE/liandu");
  EXPECT_EQ(host_state_payload(true, 1700000000123), R"({"online":true,"timestamp":1700000000123})");
  EXPECT_EQ(host_state_payload(false, 5), R"({"online":false,"timestamp":5})");
  auto t = parse_topic(host_state_topic("scada-1"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->type, message_type::state);
  EXPECT_EQ(t->edge_node, "scada-1");
  EXPECT_TRUE(valid_host_id("scada-1"));
  for (const char* bad : {"", "a/b", "a+", "#"}) EXPECT_FALSE(valid_host_id(bad)) << bad;
}

TEST(SparkplugTopic, ErrorsNameTheLevel) {
  EXPECT_FALSE(is_sparkplug_topic("spBv1.0"));
  EXPECT_FALSE(is_sparkplug_topic("spAv1.0/g/NDATA/n"));
  auto t = parse_topic("spBv1.0/g/NDATA");
  ASSERT_FALSE(t.ok());
  t = parse_topic("spBv1.0/g/XDATA/n");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("unknown message type \"XDATA\""), std::string::npos);
  t = parse_topic("spBv1.0/g/DDATA/n");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("device id"), std::string::npos);
  t = parse_topic("spBv1.0/g/NDATA/n/extra");
  ASSERT_FALSE(t.ok());
  t = parse_topic("spBv1.0//NDATA/n");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("group id"), std::string::npos);
}

TEST(SparkplugDecoder, NodeBirthGivesDataAndOnlineState) {
  decoder dec;
  decoded d = must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth());
  EXPECT_TRUE(d.errors.empty()) << d.errors.front();
  auto data = of(d, data_measurement);
  ASSERT_EQ(data.size(), 1u);
  const model::point& p = *data[0];
  EXPECT_EQ(p.time, 1'700'000'000'000 * ms);
  EXPECT_EQ(p.tags, (std::vector<model::tag>{{"edge_node", "n1"}, {"group", "g1"}}));
  EXPECT_EQ(field(p, "Temperature")->value, model::field_value{20.5});
  EXPECT_EQ(field(p, "Count")->value, model::field_value{int64_t{7}});
  EXPECT_EQ(field(p, "Status")->value, model::field_value{std::string("idle")});
  EXPECT_EQ(field(p, "Node Control/Rebirth")->value, model::field_value{false});
  EXPECT_EQ(field(p, "bdSeq"), nullptr);  // on the state point
  auto state = of(d, state_measurement);
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(field(*state[0], "online")->value, model::field_value{true});
  EXPECT_EQ(field(*state[0], "event")->value, model::field_value{std::string("NBIRTH")});
  EXPECT_EQ(field(*state[0], "bdseq")->value, model::field_value{int64_t{3}});
  EXPECT_TRUE(dec.online("g1", "n1"));
  EXPECT_EQ(d.metrics, 4u);
  EXPECT_TRUE(d.rebirth_topic.empty());
}

TEST(SparkplugDecoder, DataByAliasUsesBirthNamesAndTypes) {
  decoder dec;
  must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth(0));
  payload_builder b(1, 1'700'000'001'000);
  b.metric(nullptr, 1, 0).set_float_value(21.25f);
  b.metric(nullptr, 2, 0).set_int_value(static_cast<uint32_t>(-5));  // Int32 as two's complement
  b.metric("Status", std::nullopt, 0).set_string_value("running");   // by name
  b.metric(nullptr, 1, 0).set_float_value(22.0f);
  b.p.mutable_metrics(3)->set_timestamp(1'700'000'002'000);  // its own time
  decoded d = must_decode(dec, "spBv1.0/g1/NDATA/n1", b.bytes());
  EXPECT_TRUE(d.errors.empty()) << d.errors.front();
  auto data = of(d, data_measurement);
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0]->time, 1'700'000'001'000 * ms);
  EXPECT_EQ(field(*data[0], "Temperature")->value, model::field_value{21.25});
  EXPECT_EQ(field(*data[0], "Count")->value, model::field_value{int64_t{-5}});
  EXPECT_EQ(field(*data[0], "Status")->value, model::field_value{std::string("running")});
  EXPECT_EQ(data[1]->time, 1'700'000'002'000 * ms);
  EXPECT_EQ(field(*data[1], "Temperature")->value, model::field_value{22.0});
  EXPECT_TRUE(of(d, state_measurement).empty());
}

TEST(SparkplugDecoder, DatatypesMapToFieldTypes) {
  decoder dec;
  payload_builder b(0);
  b.metric("i8", 1, pb::Int8).set_int_value(0xFFFFFFFFu);  // -1 sign-extended
  b.metric("i8b", 2, pb::Int8).set_int_value(0x80);        // -128 in 8 bits
  b.metric("i16", 3, pb::Int16).set_int_value(0xFFA9);     // -87
  b.metric("i64", 4, pb::Int64).set_long_value(static_cast<uint64_t>(-9'000'000'000LL));
  b.metric("u8", 5, pb::UInt8).set_int_value(200);
  b.metric("u32", 6, pb::UInt32).set_long_value(4'000'000'000u);  // UInt32 in long_value too
  b.metric("u64", 7, pb::UInt64).set_long_value(18'000'000'000'000'000'000u);
  b.metric("f", 8, pb::Float).set_float_value(1.5f);
  b.metric("d", 9, pb::Double).set_double_value(2.25);
  b.metric("b", 10, pb::Boolean).set_boolean_value(true);
  b.metric("text", 11, pb::Text).set_string_value("long text");
  b.metric("uuid", 12, pb::UUID).set_string_value("123e4567-e89b-12d3-a456-426614174000");
  b.metric("when", 13, pb::DateTime).set_long_value(1'700'000'000'123);
  b.metric("file", 14, pb::File).set_bytes_value("%PDF");
  b.metric("blob", 15, pb::Bytes).set_bytes_value("\x01\x02");
  b.metric("tmpl", 16, pb::Template).mutable_template_value()->set_is_definition(true);  // not data
  b.metric("nothing", 17, pb::Double).set_is_null(true);
  b.metric("passing", 18, pb::Double).set_is_transient(true);
  b.p.mutable_metrics(17)->set_double_value(1);
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  EXPECT_TRUE(d.errors.empty()) << d.errors.front();
  auto data = of(d, data_measurement);
  ASSERT_EQ(data.size(), 1u);
  const model::point& p = *data[0];
  EXPECT_EQ(field(p, "i8")->value, model::field_value{int64_t{-1}});
  EXPECT_EQ(field(p, "i8b")->value, model::field_value{int64_t{-128}});
  EXPECT_EQ(field(p, "i16")->value, model::field_value{int64_t{-87}});
  EXPECT_EQ(field(p, "i64")->value, model::field_value{int64_t{-9'000'000'000LL}});
  EXPECT_EQ(field(p, "u8")->value, model::field_value{int64_t{200}});
  EXPECT_EQ(field(p, "u32")->value, model::field_value{int64_t{4'000'000'000LL}});
  EXPECT_EQ(field(p, "u64")->value, model::field_value{uint64_t{18'000'000'000'000'000'000u}});
  EXPECT_EQ(field(p, "f")->value, model::field_value{1.5});
  EXPECT_EQ(field(p, "d")->value, model::field_value{2.25});
  EXPECT_EQ(field(p, "b")->value, model::field_value{true});
  EXPECT_EQ(field(p, "text")->value, model::field_value{std::string("long text")});
  EXPECT_EQ(field(p, "uuid")->value, model::field_value{std::string("123e4567-e89b-12d3-a456-426614174000")});
  EXPECT_EQ(field(p, "when")->value, model::field_value{int64_t{1'700'000'000'123}});
  for (const char* skipped : {"file", "blob", "tmpl", "nothing", "passing"})
    EXPECT_EQ(field(p, skipped), nullptr);
  EXPECT_EQ(p.fields.size(), 13u);
  EXPECT_EQ(d.metrics, 13u);
  EXPECT_EQ(d.skipped, 4u);  // File, Bytes, null, transient; a template definition is no value
  EXPECT_EQ(dec.stats().skipped_metrics.load(), 4u);
}

TEST(SparkplugDecoder, WrongValueForDatatypeNamesMetricIndexAndField) {
  decoder dec;
  must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth());
  payload_builder b(1);
  b.metric(nullptr, 1, 0).set_string_value("hot");  // Temperature is Float
  b.metric(nullptr, 2, 0).set_int_value(9);
  decoded d = must_decode(dec, "spBv1.0/g1/NDATA/n1", b.bytes());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("spBv1.0/g1/NDATA/n1"), std::string::npos) << d.errors[0];
  EXPECT_NE(d.errors[0].find("metric index 0 (Temperature)"), std::string::npos) << d.errors[0];
  EXPECT_NE(d.errors[0].find("Float needs float_value, got string_value"), std::string::npos) << d.errors[0];
  auto data = of(d, data_measurement);
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(field(*data[0], "Count")->value, model::field_value{int64_t{9}});
  auto errs = of(d, errors_measurement);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(tag(*errs[0], "kind"), "bad_metric");
  EXPECT_TRUE(d.rebirth_topic.empty());
}

TEST(SparkplugDecoder, DeviceBirthDataAndDeath) {
  decoder dec;
  must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth(0));
  payload_builder birth(1);
  birth.metric("Pressure", 10, pb::Double).set_double_value(1.0);
  birth.metric("Running", 11, pb::Boolean).set_boolean_value(false);
  decoded d = must_decode(dec, "spBv1.0/g1/DBIRTH/n1/press7", birth.bytes());
  EXPECT_TRUE(d.errors.empty()) << d.errors.front();
  auto state = of(d, state_measurement);
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(tag(*state[0], "device"), "press7");
  EXPECT_EQ(field(*state[0], "bdseq"), nullptr);
  EXPECT_TRUE(dec.online("g1", "n1", "press7"));

  payload_builder data(2);
  data.metric(nullptr, 10, 0).set_double_value(3.5);
  data.metric(nullptr, 11, 0).set_boolean_value(true);
  d = must_decode(dec, "spBv1.0/g1/DDATA/n1/press7", data.bytes());
  EXPECT_TRUE(d.errors.empty()) << d.errors.front();
  auto pts = of(d, data_measurement);
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0]->tags,
            (std::vector<model::tag>{{"device", "press7"}, {"edge_node", "n1"}, {"group", "g1"}}));
  EXPECT_EQ(pts[0]->time, arrival);  // no timestamps: arrival time
  EXPECT_EQ(field(*pts[0], "Pressure")->value, model::field_value{3.5});

  // Aliases are per device: the node's alias 1 means nothing here.
  payload_builder node_alias(3);
  node_alias.metric(nullptr, 1, 0).set_float_value(1);
  d = must_decode(dec, "spBv1.0/g1/DDATA/n1/press7", node_alias.bytes());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("unknown alias 1"), std::string::npos);

  d = must_decode(dec, "spBv1.0/g1/DDEATH/n1/press7", payload_builder(4).bytes());
  state = of(d, state_measurement);
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(field(*state[0], "online")->value, model::field_value{false});
  EXPECT_EQ(field(*state[0], "event")->value, model::field_value{std::string("DDEATH")});
  EXPECT_FALSE(dec.online("g1", "n1", "press7"));
}

TEST(SparkplugDecoder, SequenceGapIsReportedAndAsksForRebirth) {
  decoder dec;
  must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth(0));
  payload_builder ok(1);
  ok.metric(nullptr, 2, 0).set_int_value(1);
  EXPECT_TRUE(must_decode(dec, "spBv1.0/g1/NDATA/n1", ok.bytes()).errors.empty());
  payload_builder gap(5);
  gap.metric(nullptr, 2, 0).set_int_value(2);
  decoded d = must_decode(dec, "spBv1.0/g1/NDATA/n1", gap.bytes());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("expected seq 2, got 5"), std::string::npos) << d.errors[0];
  auto errs = of(d, errors_measurement);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(tag(*errs[0], "kind"), "seq_gap");
  EXPECT_EQ(field(*errs[0], "expected")->value, model::field_value{int64_t{2}});
  EXPECT_EQ(field(*errs[0], "seen")->value, model::field_value{int64_t{5}});
  EXPECT_EQ(of(d, data_measurement).size(), 1u);  // the data itself is still stored
  EXPECT_EQ(d.rebirth_topic, "spBv1.0/g1/NCMD/n1");
  pb::Payload cmd;
  ASSERT_TRUE(cmd.ParseFromString(d.rebirth_payload));
  ASSERT_EQ(cmd.metrics_size(), 1);
  EXPECT_EQ(cmd.metrics(0).name(), "Node Control/Rebirth");
  EXPECT_EQ(cmd.metrics(0).datatype(), static_cast<uint32_t>(pb::Boolean));
  EXPECT_TRUE(cmd.metrics(0).boolean_value());
  EXPECT_EQ(dec.stats().seq_gaps.load(), 1u);
  EXPECT_EQ(dec.stats().rebirths_requested.load(), 1u);

  // The count goes on from what was seen; a second gap soon after is
  // reported but the rebirth is not asked again within the interval.
  payload_builder next(6);
  EXPECT_TRUE(must_decode(dec, "spBv1.0/g1/NDATA/n1", next.bytes()).errors.empty());
  d = must_decode(dec, "spBv1.0/g1/NDATA/n1", payload_builder(9).bytes(), arrival + 1000 * ms);
  EXPECT_EQ(d.errors.size(), 1u);
  EXPECT_TRUE(d.rebirth_topic.empty());
  d = must_decode(dec, "spBv1.0/g1/NDATA/n1", payload_builder(20).bytes(), arrival + 6000 * ms);
  EXPECT_EQ(d.rebirth_topic, "spBv1.0/g1/NCMD/n1");
  // A new NBIRTH resets the sequence and lets the next problem ask at once.
  must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth(0), arrival + 6001 * ms);
  d = must_decode(dec, "spBv1.0/g1/NDATA/n1", payload_builder(2).bytes(), arrival + 6002 * ms);
  EXPECT_EQ(d.rebirth_topic, "spBv1.0/g1/NCMD/n1");
}

TEST(SparkplugDecoder, SequenceWrapsFrom255To0) {
  decoder dec;
  must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth(250));
  for (uint64_t seq : {251, 252, 253, 254, 255, 0, 1, 2}) {
    decoded d = must_decode(dec, "spBv1.0/g1/NDATA/n1", payload_builder(seq).bytes());
    EXPECT_TRUE(d.errors.empty()) << "seq " << seq << ": " << d.errors.front();
  }
  decoded d = must_decode(dec, "spBv1.0/g1/NDATA/n1", payload_builder(2).bytes());  // re-sent: no gap
  EXPECT_TRUE(d.errors.empty());
  d = must_decode(dec, "spBv1.0/g1/NDATA/n1", payload_builder(256).bytes());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("out of range 0..255"), std::string::npos);
  EXPECT_EQ(dec.stats().seq_gaps.load(), 0u);
}

TEST(SparkplugDecoder, NodeDeathTakesNodeAndDevicesOffline) {
  decoder dec;
  must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth(0));
  must_decode(dec, "spBv1.0/g1/DBIRTH/n1/d1", payload_builder(1).bytes());
  must_decode(dec, "spBv1.0/g1/DBIRTH/n1/d2", payload_builder(2).bytes());
  payload_builder stale(std::nullopt);
  stale.metric("bdSeq", std::nullopt, pb::Int64).set_long_value(2);  // will of an older session
  decoded d = must_decode(dec, "spBv1.0/g1/NDEATH/n1", stale.bytes());
  EXPECT_TRUE(d.points.empty());
  EXPECT_TRUE(dec.online("g1", "n1"));
  EXPECT_EQ(dec.stats().stale_deaths.load(), 1u);

  payload_builder death(std::nullopt);
  death.metric("bdSeq", std::nullopt, pb::Int64).set_long_value(3);
  d = must_decode(dec, "spBv1.0/g1/NDEATH/n1", death.bytes());
  auto state = of(d, state_measurement);
  ASSERT_EQ(state.size(), 3u);
  for (const auto* p : state) {
    EXPECT_EQ(field(*p, "online")->value, model::field_value{false});
    EXPECT_EQ(field(*p, "event")->value, model::field_value{std::string("NDEATH")});
  }
  EXPECT_EQ(tag(*state[0], "device"), "d1");
  EXPECT_EQ(tag(*state[1], "device"), "d2");
  EXPECT_EQ(tag(*state[2], "device"), "<none>");
  EXPECT_EQ(field(*state[2], "bdseq")->value, model::field_value{int64_t{3}});
  EXPECT_FALSE(dec.online("g1", "n1"));
  EXPECT_FALSE(dec.online("g1", "n1", "d1"));

  // Data after the death needs a new birth.
  payload_builder data(3);
  data.metric(nullptr, 1, 0).set_float_value(1);
  d = must_decode(dec, "spBv1.0/g1/NDATA/n1", data.bytes());
  EXPECT_TRUE(of(d, data_measurement).empty());
  ASSERT_EQ(of(d, errors_measurement).size(), 1u);
  EXPECT_EQ(tag(*of(d, errors_measurement)[0], "kind"), "no_birth");
  EXPECT_EQ(d.rebirth_topic, "spBv1.0/g1/NCMD/n1");
}

TEST(SparkplugDecoder, DataBeforeBirthAndUnknownAliasAskForRebirth) {
  decoder dec;
  payload_builder data(4);
  data.metric(nullptr, 1, 0).set_float_value(1);
  decoded d = must_decode(dec, "spBv1.0/g1/DDATA/n9/d1", data.bytes());
  EXPECT_EQ(d.rebirth_topic, "spBv1.0/g1/NCMD/n9");
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("before the NBIRTH"), std::string::npos);

  decoder dec2;
  must_decode(dec2, "spBv1.0/g1/NBIRTH/n1", nbirth(0));
  payload_builder unknown(1);
  unknown.metric(nullptr, 99, 0).set_float_value(1);
  unknown.metric(nullptr, 2, 0).set_int_value(3);
  d = must_decode(dec2, "spBv1.0/g1/NDATA/n1", unknown.bytes());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("metric index 0: unknown alias 99"), std::string::npos) << d.errors[0];
  EXPECT_EQ(tag(*of(d, errors_measurement)[0], "kind"), "unknown_alias");
  EXPECT_EQ(of(d, data_measurement).size(), 1u);  // the known one is kept
  EXPECT_EQ(d.rebirth_topic, "spBv1.0/g1/NCMD/n1");
  EXPECT_EQ(dec2.stats().unknown_aliases.load(), 1u);

  // DDATA of a device without DBIRTH.
  d = must_decode(dec2, "spBv1.0/g1/DDATA/n1/ghost", payload_builder(2).bytes(), arrival + 10'000 * ms);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("before the DBIRTH of device ghost"), std::string::npos);
  EXPECT_FALSE(d.rebirth_topic.empty());
}

TEST(SparkplugDecoder, MalformedProtobufIsAnErrorNotAFailure) {
  decoder dec;
  must_decode(dec, "spBv1.0/g1/NBIRTH/n1", nbirth(0));
  decoded d = must_decode(dec, "spBv1.0/g1/NDATA/n1", std::string("\x12\xff\xff\xff\xff\x0f garbage", 15));
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("not a Sparkplug B protobuf"), std::string::npos);
  EXPECT_EQ(tag(*of(d, errors_measurement)[0], "kind"), "malformed");
  EXPECT_EQ(d.data_points, 0u);
  EXPECT_EQ(d.rebirth_topic, "spBv1.0/g1/NCMD/n1");
  // A topic outside the namespace is the only failure.
  EXPECT_FALSE(dec.decode("other/topic", "", arrival).ok());
  // Commands and host state are not data.
  d = must_decode(dec, "spBv1.0/g1/NCMD/n1", decoder::rebirth_payload(1));
  EXPECT_TRUE(d.points.empty());
  d = must_decode(dec, "spBv1.0/STATE/host", R"({"online":true,"timestamp":1})");
  EXPECT_TRUE(d.points.empty());
}

TEST(SparkplugDecoder, BirthProblemsAreReported) {
  decoder dec;
  payload_builder b(0);
  b.metric("NoType", 1, 0).set_int_value(1);
  b.metric(nullptr, 2, pb::Int32).set_int_value(1);
  b.metric("A", 3, pb::Int32).set_int_value(1);
  b.metric("B", 3, pb::Int32).set_int_value(2);
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 3u);
  EXPECT_NE(d.errors[0].find("metric index 0 (NoType): a birth metric needs a datatype"), std::string::npos);
  EXPECT_NE(d.errors[1].find("metric index 1: a birth metric needs a name"), std::string::npos);
  EXPECT_NE(d.errors[2].find("alias 3 already names A"), std::string::npos);
}

TEST(SparkplugDecoder, InvalidUtf8NamesAndStringsAreBadMetrics) {
  decoder dec;
  payload_builder b(0);
  b.metric("ok \xc3\xa9", 1, pb::String).set_string_value("caf\xc3\xa9");
  b.metric("bad \xc3", 2, pb::Int32).set_int_value(1);
  b.metric("s", 3, pb::String).set_string_value("\xed\xa0\x80");  // a surrogate
  b.metric("o", 4, pb::String).set_string_value("\xc0\xaf");      // overlong '/'
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 3u);
  EXPECT_NE(d.errors[0].find("metric index 1: name is not valid UTF-8"), std::string::npos) << d.errors[0];
  EXPECT_NE(d.errors[1].find("metric index 2 (s): string_value is not valid UTF-8"), std::string::npos);
  auto data = of(d, data_measurement);
  ASSERT_EQ(data.size(), 1u);
  ASSERT_EQ(data[0]->fields.size(), 1u);
  EXPECT_EQ(field(*data[0], "ok \xc3\xa9")->value, model::field_value{std::string("caf\xc3\xa9")});
}

TEST(SparkplugDecoder, RoundTripOfEveryMessageKind) {
  // Encode with the generated classes, decode, and compare every stored value.
  decoder dec;
  payload_builder nb(0, 1'000);
  nb.metric("bdSeq", std::nullopt, pb::UInt64).set_long_value(0);
  nb.metric("Line/Speed", 1, pb::Double).set_double_value(12.5);
  decoded d = must_decode(dec, "spBv1.0/G/NBIRTH/E", nb.bytes());
  ASSERT_EQ(d.data_points, 1u);
  EXPECT_EQ(field(d.points[0], "Line/Speed")->value, model::field_value{12.5});
  EXPECT_EQ(d.points[0].time, 1'000 * ms);

  for (int i = 1; i <= 300; ++i) {
    payload_builder nd(i % 256, 1'000 + i);
    nd.metric(nullptr, 1, 0).set_double_value(i * 0.5);
    d = must_decode(dec, "spBv1.0/G/NDATA/E", nd.bytes());
    ASSERT_TRUE(d.errors.empty()) << i << ": " << d.errors.front();
    ASSERT_EQ(d.data_points, 1u);
    EXPECT_EQ(d.points[0].time, (1'000 + i) * ms);
    EXPECT_EQ(field(d.points[0], "Line/Speed")->value, model::field_value{i * 0.5});
  }
}

// Complex metric types: arrays, template instances, DataSets.

// Elements packed little-endian, as the Sparkplug array types carry them.
template <class T>
std::string pack_le(const std::vector<T>& values) {
  std::string out;
  for (T v : values) {
    uint64_t bits = 0;
    if constexpr (std::is_same_v<T, float>) {
      bits = std::bit_cast<uint32_t>(v);
    } else if constexpr (std::is_same_v<T, double>) {
      bits = std::bit_cast<uint64_t>(v);
    } else {
      bits = static_cast<uint64_t>(v);
    }
    for (size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((bits >> (8 * i)) & 0xFF);
  }
  return out;
}

// BooleanArray: uint32 LE count, then the bits, most significant first.
std::string pack_bools(const std::vector<bool>& values) {
  std::string out = pack_le<uint32_t>({static_cast<uint32_t>(values.size())});
  out.append((values.size() + 7) / 8, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i]) out[4 + i / 8] = static_cast<char>(out[4 + i / 8] | (0x80 >> (i % 8)));
  }
  return out;
}

std::string string_field(const model::point& p, std::string_view key) {
  const model::field* f = field(p, key);
  if (f == nullptr) return "<no field>";
  const auto* s = std::get_if<std::string>(&f->value);
  return s == nullptr ? "<not a string>" : *s;
}

bool has_error(const decoded& d, std::string_view text) {
  for (const auto& e : d.errors) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string all_errors(const decoded& d) {
  std::string out;
  for (const auto& e : d.errors) out += e + "\n";
  return out;
}

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

TEST(SparkplugArrays, EveryArrayTypeBecomesAJsonArrayField) {
  decoder dec;
  payload_builder b(0);
  b.metric("i8", 1, pb::Int8Array).set_bytes_value(pack_le<int8_t>({-128, -23, 0, 123, 127}));
  b.metric("i16", 2, pb::Int16Array).set_bytes_value(pack_le<int16_t>({-32768, -30000, 30000, 32767}));
  b.metric("i32", 3, pb::Int32Array)
      .set_bytes_value(pack_le<int32_t>({std::numeric_limits<int32_t>::min(), -1, 315338746, 2147483647}));
  b.metric("i64", 4, pb::Int64Array)
      .set_bytes_value(pack_le<int64_t>(
          {std::numeric_limits<int64_t>::min(), -4270929666821191986, std::numeric_limits<int64_t>::max()}));
  b.metric("u8", 5, pb::UInt8Array).set_bytes_value(pack_le<uint8_t>({0, 23, 250, 255}));
  b.metric("u16", 6, pb::UInt16Array).set_bytes_value(pack_le<uint16_t>({0, 30, 52360, 65535}));
  b.metric("u32", 7, pb::UInt32Array).set_bytes_value(pack_le<uint32_t>({0, 52, 3293969225u, 4294967295u}));
  b.metric("u64", 8, pb::UInt64Array)
      .set_bytes_value(pack_le<uint64_t>({0, 16444743074749521625u, std::numeric_limits<uint64_t>::max()}));
  b.metric("f", 9, pb::FloatArray)
      .set_bytes_value(
          pack_le<float>({1.23f, -89.341f, std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::lowest(), std::numeric_limits<float>::denorm_min(),
                          static_cast<float>(nan), static_cast<float>(inf), static_cast<float>(-inf)}));
  b.metric("d", 10, pb::DoubleArray)
      .set_bytes_value(pack_le<double>({12.354213, -1022.9123213, std::numeric_limits<double>::max(),
                                        std::numeric_limits<double>::min(), -0.0, nan}));
  b.metric("b", 11, pb::BooleanArray)
      .set_bytes_value(
          pack_bools({false, false, true, true, false, true, false, false, true, true, false, true}));
  static constexpr char strings[] =
      "ABC\0hello\0\xe6\xb8\xa9\xe5\xba\xa6\0Gr\xc3\xbc\xc3\x9f\0\xf0\x9f\x98\x80\0\0q\"b\\n\nt\x01\0";
  b.metric("s", 12, pb::StringArray).set_bytes_value(std::string(strings, sizeof strings - 1));
  b.metric("t", 13, pb::DateTimeArray).set_bytes_value(pack_le<int64_t>({1256102875335, 1656107875000, 0}));
  b.metric("empty_i32", 14, pb::Int32Array).set_bytes_value("");
  b.metric("empty_b", 15, pb::BooleanArray).set_bytes_value(pack_bools({}));
  b.metric("empty_s", 16, pb::StringArray).set_bytes_value("");
  b.metric("one_b", 17, pb::BooleanArray).set_bytes_value(pack_bools({true}));
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  EXPECT_TRUE(d.errors.empty()) << all_errors(d);
  auto data = of(d, data_measurement);
  ASSERT_EQ(data.size(), 1u);
  const model::point& p = *data[0];
  EXPECT_EQ(string_field(p, "i8"), "[-128,-23,0,123,127]");
  EXPECT_EQ(string_field(p, "i16"), "[-32768,-30000,30000,32767]");
  EXPECT_EQ(string_field(p, "i32"), "[-2147483648,-1,315338746,2147483647]");
  EXPECT_EQ(string_field(p, "i64"), "[-9223372036854775808,-4270929666821191986,9223372036854775807]");
  EXPECT_EQ(string_field(p, "u8"), "[0,23,250,255]");
  EXPECT_EQ(string_field(p, "u16"), "[0,30,52360,65535]");
  EXPECT_EQ(string_field(p, "u32"), "[0,52,3293969225,4294967295]");
  EXPECT_EQ(string_field(p, "u64"), "[0,16444743074749521625,18446744073709551615]");
  EXPECT_EQ(string_field(p, "f"),
            R"([1.23,-89.341,3.4028235e+38,-3.4028235e+38,1e-45,"NaN","Infinity","-Infinity"])");
  EXPECT_EQ(string_field(p, "d"),
            R"([12.354213,-1022.9123213,1.7976931348623157e+308,2.2250738585072014e-308,-0,"NaN"])");
  EXPECT_EQ(string_field(p, "b"), "[false,false,true,true,false,true,false,false,true,true,false,true]");
  EXPECT_EQ(
      string_field(p, "s"),
      "[\"ABC\",\"hello\",\"\xe6\xb8\xa9\xe5\xba\xa6\",\"Gr\xc3\xbc\xc3\x9f\",\"\xf0\x9f\x98\x80\",\"\","
      R"("q\"b\\n\nt\u0001"])");
  EXPECT_EQ(string_field(p, "t"), "[1256102875335,1656107875000,0]");
  EXPECT_EQ(string_field(p, "empty_i32"), "[]");
  EXPECT_EQ(string_field(p, "empty_b"), "[]");
  EXPECT_EQ(string_field(p, "empty_s"), "[]");
  EXPECT_EQ(string_field(p, "one_b"), "[true]");
  EXPECT_EQ(d.metrics, 17u);
  // Every one is JSON a client can parse back to the values sent.
  for (const auto& f : p.fields) {
    auto j = nlohmann::json::parse(std::get<std::string>(f.value), nullptr, false);
    EXPECT_TRUE(j.is_array()) << f.key;
  }
  auto s = nlohmann::json::parse(string_field(p, "s"));
  EXPECT_EQ(s[2].get<std::string>(), "\xe6\xb8\xa9\xe5\xba\xa6");
  EXPECT_EQ(s[6].get<std::string>(), "q\"b\\n\nt\x01");
  auto u64 = nlohmann::json::parse(string_field(p, "u64"));
  EXPECT_EQ(u64[2].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
  auto f = nlohmann::json::parse(string_field(p, "f"));
  EXPECT_EQ(f[0].get<float>(), 1.23f);
}

TEST(SparkplugArrays, SpecExampleBytesDecode) {
  // The byte examples of the Sparkplug 3.0 array types.
  decoder dec;
  payload_builder b(0);
  b.metric("i8", 1, pb::Int8Array).set_bytes_value("\xEF\x7B");  // as printed: -17 (the text says -23), 123
  b.metric("i16", 2, pb::Int16Array).set_bytes_value("\xD0\x8A\x30\x75");
  b.metric("i32", 3, pb::Int32Array).set_bytes_value("\xFF\xFF\xFF\xFF\xFA\xAF\xCB\x12");
  b.metric("u16", 4, pb::UInt16Array).set_bytes_value("\x1E\x00\x88\xCC");
  b.metric("b", 5, pb::BooleanArray).set_bytes_value(std::string("\x0C\x00\x00\x00\x34\xD0", 6));
  b.metric("s", 6, pb::StringArray)
      .set_bytes_value(std::string("\x41\x42\x43\x00\x68\x65\x6c\x6c\x6f\x00", 10));
  b.p.mutable_metrics(3)->set_bytes_value(std::string("\x1E\x00\x88\xCC", 4));
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  EXPECT_TRUE(d.errors.empty()) << all_errors(d);
  const model::point& p = *of(d, data_measurement).at(0);
  EXPECT_EQ(string_field(p, "i8"), "[-17,123]");
  EXPECT_EQ(string_field(p, "i16"), "[-30000,30000]");
  EXPECT_EQ(string_field(p, "i32"), "[-1,315338746]");
  EXPECT_EQ(string_field(p, "u16"), "[30,52360]");
  EXPECT_EQ(string_field(p, "b"), "[false,false,true,true,false,true,false,false,true,true,false,true]");
  EXPECT_EQ(string_field(p, "s"), R"(["ABC","hello"])");
}

TEST(SparkplugArrays, MalformedArraysAreErrorsNamingMetricAndTopic) {
  decoder dec;
  payload_builder b(0);
  b.metric("odd", 1, pb::Int32Array).set_bytes_value(std::string(7, '\x01'));
  b.metric("short_count", 2, pb::BooleanArray).set_bytes_value(std::string("\x01\x00\x00", 3));
  b.metric("few_bits", 3, pb::BooleanArray).set_bytes_value(std::string("\x09\x00\x00\x00\xff", 5));
  b.metric("extra_bits", 4, pb::BooleanArray).set_bytes_value(std::string("\x08\x00\x00\x00\xff\x00", 6));
  b.metric("open", 5, pb::StringArray).set_bytes_value(std::string("ok\0unterminated", 15));
  b.metric("latin1", 6, pb::StringArray).set_bytes_value(std::string("ok\0caf\xe9\0", 8));
  b.metric("not_bytes", 7, pb::DoubleArray).set_double_value(1.5);
  b.metric("before_epoch", 8, pb::DateTimeArray).set_bytes_value(pack_le<int64_t>({1, -1}));
  b.metric("double_odd", 9, pb::DoubleArray).set_bytes_value(std::string(12, '\0'));
  b.metric("fine", 10, pb::UInt8Array).set_bytes_value("\x01\x02");
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 9u) << all_errors(d);
  const char* want[] = {
      "metric index 0 (odd): Int32Array bytes_value of 7 bytes is not a multiple of 4",
      "metric index 1 (short_count): BooleanArray needs a 4-byte count, got 3 bytes",
      "metric index 2 (few_bits): BooleanArray count 9 needs 2 bytes of bits, got 1",
      "metric index 3 (extra_bits): BooleanArray count 8 needs 1 bytes of bits, got 2",
      "metric index 4 (open): StringArray: the last string is not NUL-terminated",
      "metric index 5 (latin1): StringArray element 1 is not valid UTF-8",
      "metric index 6 (not_bytes): datatype DoubleArray needs bytes_value, got double_value",
      "metric index 7 (before_epoch): DateTimeArray element 1 out of range",
      "metric index 8 (double_odd): DoubleArray bytes_value of 12 bytes is not a multiple of 8",
  };
  for (size_t i = 0; i < std::size(want); ++i) {
    EXPECT_NE(d.errors[i].find(want[i]), std::string::npos) << d.errors[i];
    EXPECT_EQ(d.errors[i].rfind("topic spBv1.0/g/NBIRTH/n: ", 0), 0u) << d.errors[i];
  }
  for (const auto* e : of(d, errors_measurement)) EXPECT_EQ(tag(*e, "kind"), "bad_metric");
  const model::point& p = *of(d, data_measurement).at(0);
  ASSERT_EQ(p.fields.size(), 1u);  // only the good one
  EXPECT_EQ(string_field(p, "fine"), "[1,2]");
}

TEST(SparkplugArrays, MoreThanTheElementLimitIsRejected) {
  decoder dec;
  payload_builder b(0);
  b.metric("at_limit", 1, pb::UInt8Array).set_bytes_value(std::string(100'000, '\x07'));
  b.metric("over", 2, pb::Int8Array).set_bytes_value(std::string(100'001, '\x07'));
  b.metric("over_bools", 3, pb::BooleanArray).set_bytes_value(pack_le<uint32_t>({0xFFFFFFFFu}));  // a claim
  b.metric("over_strings", 4, pb::StringArray).set_bytes_value(std::string(100'001, '\0'));
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 3u) << all_errors(d);
  EXPECT_NE(d.errors[0].find("topic spBv1.0/g/NBIRTH/n: metric index 1 (over): Int8Array of 100001 elements, "
                             "more than 100000"),
            std::string::npos)
      << d.errors[0];
  EXPECT_NE(d.errors[1].find("(over_bools): BooleanArray of 4294967295 elements, more than 100000"),
            std::string::npos)
      << d.errors[1];
  EXPECT_NE(d.errors[2].find("(over_strings): StringArray of 100001 elements"), std::string::npos);
  for (const auto* e : of(d, errors_measurement)) EXPECT_EQ(tag(*e, "kind"), "limit");
  const model::point& p = *of(d, data_measurement).at(0);
  ASSERT_EQ(p.fields.size(), 1u);
  EXPECT_EQ(string_field(p, "at_limit").size(), 2 + 100'000 * 2 - 1);

  decoder small({.max_array_elements = 2});
  payload_builder c(0);
  c.metric("three", 1, pb::Int16Array).set_bytes_value(pack_le<int16_t>({1, 2, 3}));
  d = must_decode(small, "spBv1.0/g/NBIRTH/n", c.bytes());
  EXPECT_TRUE(has_error(d, "Int16Array of 3 elements, more than 2")) << all_errors(d);
}

// Adds a member to a template.
pb_metric& member(pb::Payload::Template& t, const char* name, uint32_t datatype) {
  pb_metric* m = t.add_metrics();
  m->set_name(name);
  if (datatype != 0) m->set_datatype(datatype);
  return *m;
}

// NBIRTH of g/n with the template definitions Motor (Speed Float, Running
// Boolean, Bearing template Bearing, Serial String) as Ignition names them,
// and Bearing (Temp Double, History Int16Array); an instance Motor1 of Motor
// (alias 1), and the definition's own metric.
std::string template_birth() {
  payload_builder b(0, 1'000);
  auto& bearing = *b.metric("Bearing", std::nullopt, pb::Template).mutable_template_value();
  bearing.set_is_definition(true);
  member(bearing, "Temp", pb::Double).set_double_value(0);
  member(bearing, "History", pb::Int16Array).set_bytes_value("");
  auto& motor = *b.metric("_types_/Motor", std::nullopt, pb::Template).mutable_template_value();
  motor.set_is_definition(true);
  member(motor, "Speed", pb::Float).set_float_value(0);
  member(motor, "Running", pb::Boolean).set_boolean_value(false);
  auto& def_bearing = *member(motor, "Bearing", pb::Template).mutable_template_value();
  def_bearing.set_template_ref("Bearing");
  member(motor, "Serial", pb::String).set_string_value("");

  auto& m1 = *b.metric("Motor1", 1, pb::Template).mutable_template_value();
  m1.set_template_ref("Motor");
  member(m1, "Speed", pb::Float).set_float_value(1500.5f);
  member(m1, "Running", 0).set_boolean_value(true);  // datatype from the definition
  auto& inner = *member(m1, "Bearing", 0).mutable_template_value();
  inner.set_template_ref("Bearing");
  member(inner, "Temp", 0).set_double_value(41.5);
  member(inner, "History", pb::Int16Array).set_bytes_value(pack_le<int16_t>({-3, 4}));
  // Serial left out: the definition has it, the instance need not.
  return b.bytes();
}

TEST(SparkplugTemplates, InstancesAreFlattenedDefinitionsAreNotData) {
  decoder dec;
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", template_birth());
  EXPECT_TRUE(d.errors.empty()) << all_errors(d);
  auto data = of(d, data_measurement);
  ASSERT_EQ(data.size(), 1u);
  const model::point& p = *data[0];
  EXPECT_EQ(p.fields.size(), 4u);
  EXPECT_EQ(field(p, "Motor1/Speed")->value, model::field_value{1500.5});
  EXPECT_EQ(field(p, "Motor1/Running")->value, model::field_value{true});
  EXPECT_EQ(field(p, "Motor1/Bearing/Temp")->value, model::field_value{41.5});
  EXPECT_EQ(string_field(p, "Motor1/Bearing/History"), "[-3,4]");
  for (const auto& f : p.fields) EXPECT_EQ(f.key.rfind("Motor1/", 0), 0u) << f.key;  // no definition stored
  EXPECT_EQ(d.metrics, 4u);
  EXPECT_EQ(d.skipped, 0u);

  // NDATA by alias: no datatypes, no template_ref; the birth and the
  // definitions supply them.
  payload_builder nd(1, 2'000);
  auto& m1 = *nd.metric(nullptr, 1, 0).mutable_template_value();
  member(m1, "Speed", 0).set_float_value(-2.5f);
  member(m1, "Serial", 0).set_string_value("SN-1");
  auto& inner = *member(m1, "Bearing", 0).mutable_template_value();
  member(inner, "Temp", 0).set_double_value(42);
  member(inner, "History", 0).set_is_null(true);
  d = must_decode(dec, "spBv1.0/g/NDATA/n", nd.bytes());
  EXPECT_TRUE(d.errors.empty()) << all_errors(d);
  const model::point& q = *of(d, data_measurement).at(0);
  EXPECT_EQ(q.time, 2'000 * ms);
  EXPECT_EQ(q.fields.size(), 3u);
  EXPECT_EQ(field(q, "Motor1/Speed")->value, model::field_value{-2.5});
  EXPECT_EQ(string_field(q, "Motor1/Serial"), "SN-1");
  EXPECT_EQ(field(q, "Motor1/Bearing/Temp")->value, model::field_value{42.0});
  EXPECT_EQ(d.skipped, 1u);  // the null member

  // A new NBIRTH forgets the definitions.
  payload_builder plain(0);
  plain.metric("Motor1", 1, pb::Template).mutable_template_value()->set_template_ref("Motor");
  must_decode(dec, "spBv1.0/g/NBIRTH/n", plain.bytes());
  d = must_decode(dec, "spBv1.0/g/NDATA/n", nd.bytes());
  EXPECT_TRUE(
      has_error(d, "metric index 0 (Motor1/Speed): no datatype, and no definition of template \"Motor\""))
      << all_errors(d);
}

TEST(SparkplugTemplates, MemberProblemsNameTheMemberAndKeepTheRest) {
  decoder dec;
  payload_builder b(0);
  auto& t = *b.metric("Pump", std::nullopt, pb::Template).mutable_template_value();
  t.set_template_ref("Unknown");
  member(t, "Flow", pb::Double).set_double_value(3.25);
  member(t, "Typeless", 0).set_int_value(1);
  t.add_metrics()->set_int_value(2);  // no name
  member(t, "Wrong", pb::Int32).set_string_value("x");
  member(t, "Blob", pb::Bytes).set_bytes_value("\x01");
  member(t, "Big", pb::UInt8Array).set_bytes_value(std::string(100'001, '\0'));
  b.metric("NotATemplate", std::nullopt, pb::Template).set_int_value(1);
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 5u) << all_errors(d);
  EXPECT_NE(d.errors[0].find("metric index 0 (Pump/Typeless): no datatype, and no definition of template "
                             "\"Unknown\" names it"),
            std::string::npos)
      << d.errors[0];
  EXPECT_NE(d.errors[1].find("metric index 0 (Pump): template member 2 needs a UTF-8 name"),
            std::string::npos);
  EXPECT_NE(d.errors[2].find("(Pump/Wrong): datatype Int32 needs int_value, got string_value"),
            std::string::npos);
  EXPECT_NE(d.errors[3].find("(Pump/Big): UInt8Array of 100001 elements, more than 100000"),
            std::string::npos);
  EXPECT_NE(d.errors[4].find(
                "metric index 1 (NotATemplate): datatype Template needs template_value, got int_value"),
            std::string::npos);
  const model::point& p = *of(d, data_measurement).at(0);
  ASSERT_EQ(p.fields.size(), 1u);
  EXPECT_EQ(field(p, "Pump/Flow")->value, model::field_value{3.25});
  EXPECT_EQ(d.skipped, 1u);  // Bytes
}

// A template instance `levels` deep: T0 holds T1 ... down to a Double leaf.
void nest(pb::Payload::Template& t, int levels) {
  member(t, "v", pb::Double).set_double_value(levels);
  if (levels > 1) nest(*member(t, "in", pb::Template).mutable_template_value(), levels - 1);
}

TEST(SparkplugTemplates, NestingDepthIsLimited) {
  decoder dec;
  payload_builder b(0);
  nest(*b.metric("Deep16", std::nullopt, pb::Template).mutable_template_value(), 16);
  nest(*b.metric("Deep17", std::nullopt, pb::Template).mutable_template_value(), 17);
  nest(*b.metric("Deep40", std::nullopt, pb::Template).mutable_template_value(), 40);
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 2u) << all_errors(d);
  EXPECT_NE(d.errors[0].find("topic spBv1.0/g/NBIRTH/n: metric index 1 (Deep17): template instances nested "
                             "more than 16 deep"),
            std::string::npos)
      << d.errors[0];
  EXPECT_NE(d.errors[1].find("metric index 2 (Deep40)"), std::string::npos);
  EXPECT_EQ(tag(*of(d, errors_measurement)[0], "kind"), "limit");
  const model::point& p = *of(d, data_measurement).at(0);
  EXPECT_EQ(p.fields.size(), 16u);  // Deep16 only, every level
  std::string deepest = "Deep16";
  for (int i = 0; i < 15; ++i) deepest += "/in";
  EXPECT_EQ(field(p, deepest + "/v")->value, model::field_value{1.0});
  for (const auto& f : p.fields) EXPECT_EQ(f.key.rfind("Deep16", 0), 0u) << f.key;
}

// Fills a DataSet with columns and types.
pb::Payload::DataSet& dataset(pb_metric& m, std::vector<std::string> columns, std::vector<uint32_t> types) {
  auto& ds = *m.mutable_dataset_value();
  ds.set_num_of_columns(columns.size());
  for (auto& c : columns) ds.add_columns(c);
  for (auto t : types) ds.add_types(t);
  return ds;
}

TEST(SparkplugDataSets, EachRowIsAPointWithTypedFields) {
  decoder dec;
  payload_builder b(0, 5'000);
  auto& ds = dataset(
      b.metric("Recipe", std::nullopt, pb::DataSet),
      {"step", "temp", "big", "ok", "name", "when", "ratio", "small"},
      {pb::Int32, pb::Double, pb::UInt64, pb::Boolean, pb::String, pb::DateTime, pb::Float, pb::Int8});
  auto* r0 = ds.add_rows();
  r0->add_elements()->set_int_value(static_cast<uint32_t>(-1));
  r0->add_elements()->set_double_value(180.5);
  r0->add_elements()->set_long_value(18'000'000'000'000'000'000u);
  r0->add_elements()->set_boolean_value(true);
  r0->add_elements()->set_string_value("pr\xc3\xa9heat");
  r0->add_elements()->set_long_value(1'700'000'000'000);
  r0->add_elements()->set_float_value(0.25f);
  r0->add_elements()->set_int_value(0xFF);
  auto* r1 = ds.add_rows();
  r1->add_elements()->set_int_value(2);
  r1->add_elements();  // null cell: no field
  r1->add_elements()->set_long_value(0);
  r1->add_elements()->set_boolean_value(false);
  r1->add_elements()->set_string_value("bake");
  r1->add_elements()->set_long_value(1);
  r1->add_elements()->set_float_value(-1);
  r1->add_elements()->set_int_value(7);
  b.metric("Other", std::nullopt, pb::Int32).set_int_value(1);
  decoded d = must_decode(dec, "spBv1.0/g/DBIRTH/n/dev", b.bytes());  // no NBIRTH yet
  EXPECT_TRUE(has_error(d, "DBIRTH before the NBIRTH"));
  must_decode(dec, "spBv1.0/g/NBIRTH/n", payload_builder(0).bytes());
  b.p.set_seq(1);
  d = must_decode(dec, "spBv1.0/g/DBIRTH/n/dev", b.bytes());
  EXPECT_TRUE(d.errors.empty()) << all_errors(d);
  EXPECT_EQ(d.data_points, 1u);
  EXPECT_EQ(d.dataset_points, 2u);
  auto rows = of(d, dataset_measurement);
  ASSERT_EQ(rows.size(), 2u);
  // Right after the `sparkplug` points.
  EXPECT_EQ(d.points[1].measurement, dataset_measurement);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(rows[r]->tags, (std::vector<model::tag>{{"device", "dev"},
                                                      {"edge_node", "n"},
                                                      {"group", "g"},
                                                      {"metric", "Recipe"},
                                                      {"row", std::to_string(r)}}));
    EXPECT_EQ(rows[r]->time, 5'000 * ms);
  }
  const model::point& p0 = *rows[0];
  EXPECT_EQ(p0.fields, (std::vector<model::field>{{"step", int64_t{-1}},
                                                  {"temp", 180.5},
                                                  {"big", uint64_t{18'000'000'000'000'000'000u}},
                                                  {"ok", true},
                                                  {"name", std::string("pr\xc3\xa9heat")},
                                                  {"when", int64_t{1'700'000'000'000}},
                                                  {"ratio", 0.25},
                                                  {"small", int64_t{-1}}}));
  EXPECT_EQ(field(*rows[1], "temp"), nullptr);
  EXPECT_EQ(field(*rows[1], "step")->value, model::field_value{int64_t{2}});
  EXPECT_EQ(rows[1]->fields.size(), 7u);
  const model::point& data = *of(d, data_measurement).at(0);
  EXPECT_EQ(field(data, "Recipe"), nullptr);  // the DataSet is not a field
  EXPECT_EQ(d.metrics, 2u);                   // Recipe and Other
}

TEST(SparkplugDataSets, ShapeAndTypeMismatchesAreErrorsNamingTheMetric) {
  decoder dec;
  payload_builder b(0);
  dataset(b.metric("Cols", std::nullopt, pb::DataSet), {"a", "b"}, {pb::Int32, pb::Int32})
      .set_num_of_columns(3);
  dataset(b.metric("Types", std::nullopt, pb::DataSet), {"a", "b"}, {pb::Int32});
  auto& short_row = dataset(b.metric("Row", std::nullopt, pb::DataSet), {"a", "b"}, {pb::Int32, pb::Int32});
  short_row.add_rows()->add_elements()->set_int_value(1);
  short_row.mutable_rows(0)->add_elements()->set_int_value(2);
  short_row.add_rows()->add_elements()->set_int_value(1);
  auto& cell = dataset(b.metric("Cell", std::nullopt, pb::DataSet), {"a", "b"}, {pb::Int32, pb::Boolean});
  cell.add_rows()->add_elements()->set_int_value(1);
  cell.mutable_rows(0)->add_elements()->set_string_value("yes");
  dataset(b.metric("Kind", std::nullopt, pb::DataSet), {"a"}, {pb::Int32Array});
  dataset(b.metric("Dup", std::nullopt, pb::DataSet), {"a", "a"}, {pb::Int32, pb::Int32});
  dataset(b.metric("Unnamed", std::nullopt, pb::DataSet), {""}, {pb::Int32});
  b.metric("NoValue", std::nullopt, pb::DataSet).set_string_value("a,b");
  auto& good = dataset(b.metric("Good", std::nullopt, pb::DataSet), {"a"}, {pb::Int32});
  good.add_rows()->add_elements()->set_int_value(5);
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 8u) << all_errors(d);
  const char* want[] = {
      "metric index 0 (Cols): DataSet num_of_columns 3 but 2 column names",
      "metric index 1 (Types): DataSet has 2 column names but 1 types",
      "metric index 2 (Row): DataSet row 1 has 1 values for 2 columns",
      "metric index 3 (Cell): DataSet row 0 column 1 (b): datatype Boolean needs boolean_value, got "
      "string_value",
      "metric index 4 (Kind): DataSet column 0 (a): datatype Int32Array is not allowed in a DataSet",
      "metric index 5 (Dup): DataSet column 1 (a): same name as column 0",
      "metric index 6 (Unnamed): DataSet column 0: a column name must be non-empty UTF-8",
      "metric index 7 (NoValue): datatype DataSet needs dataset_value, got string_value",
  };
  for (size_t i = 0; i < std::size(want); ++i) {
    EXPECT_NE(d.errors[i].find(want[i]), std::string::npos) << d.errors[i];
  }
  // A bad DataSet stores none of its rows (Row's first row was fine).
  auto rows = of(d, dataset_measurement);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(tag(*rows[0], "metric"), "Good");
}

TEST(SparkplugDataSets, MoreThanTheRowLimitIsRejected) {
  decoder dec;
  payload_builder b(0);
  auto& at = dataset(b.metric("AtLimit", std::nullopt, pb::DataSet), {"v"}, {pb::Int64});
  for (int r = 0; r < 10'000; ++r) at.add_rows()->add_elements()->set_long_value(r);
  auto& over = dataset(b.metric("Over", std::nullopt, pb::DataSet), {"v"}, {pb::Int64});
  for (int r = 0; r < 10'001; ++r) over.add_rows()->add_elements()->set_long_value(r);
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 1u) << all_errors(d);
  EXPECT_NE(
      d.errors[0].find("topic spBv1.0/g/NBIRTH/n: metric index 1 (Over): DataSet of 10001 rows, more than "
                       "10000"),
      std::string::npos)
      << d.errors[0];
  EXPECT_EQ(tag(*of(d, errors_measurement)[0], "kind"), "limit");
  auto rows = of(d, dataset_measurement);
  ASSERT_EQ(rows.size(), 10'000u);
  EXPECT_EQ(tag(*rows.back(), "row"), "9999");
  EXPECT_EQ(field(*rows.back(), "v")->value, model::field_value{int64_t{9999}});
}

TEST(SparkplugLimits, NamesRepeatedByRowsAndMembersAreBounded) {
  // A long column name repeated by every row: 10,000 x 2,000 bytes > 16 MiB.
  decoder dec;
  payload_builder b(0);
  auto& wide = dataset(b.metric("Wide", std::nullopt, pb::DataSet), {std::string(2'000, 'c')}, {pb::Int32});
  for (int r = 0; r < 10'000; ++r) wide.add_rows()->add_elements();
  auto& fine = dataset(b.metric("Fine", std::nullopt, pb::DataSet), {std::string(1'000, 'c')}, {pb::Int32});
  for (int r = 0; r < 10'000; ++r) fine.add_rows()->add_elements()->set_int_value(1);
  decoded d = must_decode(dec, "spBv1.0/g/NBIRTH/n", b.bytes());
  ASSERT_EQ(d.errors.size(), 1u) << all_errors(d);
  EXPECT_NE(
      d.errors[0].find("metric index 0 (Wide): expands to more than 16777216 bytes of field names and tags"),
      std::string::npos)
      << d.errors[0];
  EXPECT_EQ(tag(*of(d, errors_measurement)[0], "kind"), "limit");
  EXPECT_EQ(of(d, dataset_measurement).size(), 10'000u);  // Fine

  // A template's name repeated by each member, and its nested members.
  decoder small({.max_expanded_bytes = 40});
  payload_builder c(0);
  auto& t = *c.metric("Motor", std::nullopt, pb::Template).mutable_template_value();
  member(t, "a", pb::Int32).set_int_value(1);                             // "Motor/a": 7 bytes
  member(t, "b", pb::Int32).set_int_value(2);                             // 14
  auto& in = *member(t, "inner", pb::Template).mutable_template_value();  // 25
  member(in, "x", pb::Int32).set_int_value(3);                            // "Motor/inner/x": 38
  d = must_decode(small, "spBv1.0/g/NBIRTH/n", c.bytes());
  EXPECT_TRUE(d.errors.empty()) << all_errors(d);
  member(in, "y", pb::Int32).set_int_value(4);  // 51
  d = must_decode(small, "spBv1.0/g/NBIRTH/n", c.bytes());
  EXPECT_TRUE(has_error(d, "metric index 0 (Motor): expands to more than 40 bytes")) << all_errors(d);
  EXPECT_EQ(d.data_points, 0u);
}

TEST(SparkplugAliases, DeviceBirthAliasesResolveArraysTemplatesAndDataSetsInDeviceData) {
  decoder dec;
  must_decode(dec, "spBv1.0/g/NBIRTH/n", template_birth());
  payload_builder birth(1, 1'000);
  birth.metric("Vals", 20, pb::FloatArray).set_bytes_value(pack_le<float>({1}));
  birth.metric("Flags", 21, pb::BooleanArray).set_bytes_value(pack_bools({true}));
  birth.metric("Names", 22, pb::StringArray).set_bytes_value(std::string("a\0", 2));
  auto& m2 = *birth.metric("Motor2", 23, pb::Template).mutable_template_value();
  m2.set_template_ref("Motor");
  member(m2, "Speed", pb::Float).set_float_value(0);
  dataset(birth.metric("Table", 24, pb::DataSet), {"x", "y"}, {pb::Int16, pb::String});
  decoded d = must_decode(dec, "spBv1.0/g/DBIRTH/n/d1", birth.bytes());
  EXPECT_TRUE(d.errors.empty()) << all_errors(d);

  payload_builder data(2, 3'000);
  data.metric(nullptr, 20, 0).set_bytes_value(pack_le<float>({0.5f, -0.0f, static_cast<float>(nan)}));
  data.metric(nullptr, 21, 0).set_bytes_value(pack_bools({false, true, true}));
  data.metric(nullptr, 22, 0).set_bytes_value(std::string("x\0\xce\xbb\0", 5));
  auto& t = *data.metric(nullptr, 23, 0).mutable_template_value();
  member(t, "Speed", 0).set_float_value(99);
  member(t, "Running", 0).set_boolean_value(true);
  auto& rows = *data.metric(nullptr, 24, 0).mutable_dataset_value();
  rows.add_columns("x");
  rows.add_columns("y");
  rows.add_types(pb::Int16);
  rows.add_types(pb::String);
  auto* row = rows.add_rows();
  row->add_elements()->set_int_value(0xFFFF);  // -1 in 16 bits
  row->add_elements()->set_string_value("z");
  d = must_decode(dec, "spBv1.0/g/DDATA/n/d1", data.bytes());
  EXPECT_TRUE(d.errors.empty()) << all_errors(d);
  auto pts = of(d, data_measurement);
  ASSERT_EQ(pts.size(), 1u);
  const model::point& p = *pts[0];
  EXPECT_EQ(tag(p, "device"), "d1");
  EXPECT_EQ(string_field(p, "Vals"), R"([0.5,-0,"NaN"])");
  EXPECT_EQ(string_field(p, "Flags"), "[false,true,true]");
  EXPECT_EQ(string_field(p, "Names"), "[\"x\",\"\xce\xbb\"]");
  EXPECT_EQ(field(p, "Motor2/Speed")->value, model::field_value{99.0});
  EXPECT_EQ(field(p, "Motor2/Running")->value, model::field_value{true});
  auto ds = of(d, dataset_measurement);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(tag(*ds[0], "device"), "d1");
  EXPECT_EQ(tag(*ds[0], "metric"), "Table");
  EXPECT_EQ(ds[0]->time, 3'000 * ms);
  EXPECT_EQ(ds[0]->fields, (std::vector<model::field>{{"x", int64_t{-1}}, {"y", std::string("z")}}));
  EXPECT_EQ(d.metrics, 6u);

  // The datatype comes from the birth, not the DATA message: bytes for an
  // alias born as an array are still checked against that array type.
  payload_builder bad(3);
  bad.metric(nullptr, 20, pb::Int8Array).set_bytes_value("\x01\x02\x03");
  d = must_decode(dec, "spBv1.0/g/DDATA/n/d1", bad.bytes());
  EXPECT_TRUE(has_error(d, "metric index 0 (Vals): FloatArray bytes_value of 3 bytes is not a multiple of 4"))
      << all_errors(d);
}

TEST(SparkplugGroups, ParseMatchAndErrors) {
  auto e = parse_group_entry(nlohmann::json{{"name", "p1"}, {"database", "plant"}, {"group", "plant1"}});
  ASSERT_TRUE(e.ok()) << e.error().to_string();
  group_table t;
  t.put(*e);
  t.put(*parse_group_entry(nlohmann::json{{"name", "any"}, {"database", "scada"}, {"group", "+"}}));
  EXPECT_EQ(t.match("plant1")->database, "plant");
  EXPECT_EQ(t.match("other")->database, "scada");
  EXPECT_EQ(to_json(*t.match("plant1")),
            (nlohmann::json{{"name", "p1"}, {"database", "plant"}, {"group", "plant1"}}));
  EXPECT_TRUE(t.remove("any"));
  EXPECT_EQ(t.match("other"), nullptr);
  EXPECT_FALSE(t.remove("any"));

  auto bad = parse_group_entry(nlohmann::json{{"name", "x"}, {"database", "d"}, {"group", "a/b"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("\"group\""), std::string::npos);
  bad = parse_group_entry(nlohmann::json{{"name", "x"}, {"database", "d"}, {"group", "g"}, {"topic", "t"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("unknown key \"topic\""), std::string::npos);
  bad = parse_group_entry(nlohmann::json{{"name", "x"}, {"group", "g"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("\"database\" is required"), std::string::npos);
}

}  // namespace
}  // namespace liandu::connect::sparkplug
