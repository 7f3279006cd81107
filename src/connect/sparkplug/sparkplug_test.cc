#include <gtest/gtest.h>

#include <optional>

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
  b.metric("table", 14, pb::DataSet).mutable_dataset_value()->set_num_of_columns(1);
  b.metric("blob", 15, pb::Bytes).set_bytes_value("\x01\x02");
  b.metric("tmpl", 16, pb::Template).mutable_template_value()->set_is_definition(true);
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
  for (const char* skipped : {"table", "blob", "tmpl", "nothing", "passing"})
    EXPECT_EQ(field(p, skipped), nullptr);
  EXPECT_EQ(d.metrics, 13u);
  EXPECT_EQ(d.skipped, 5u);
  EXPECT_EQ(dec.stats().skipped_metrics.load(), 5u);
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
