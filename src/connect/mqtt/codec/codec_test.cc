#include "connect/mqtt/codec/codec.h"

#include <gtest/gtest.h>

#include "connect/mqtt/codec/topic.h"
#include "connect/mqtt/codec/utf8.h"

namespace liandu::connect::mqtt {
namespace {

packet round_trip(const packet& p, uint8_t level) {
  std::string bytes = encode_packet(p, level);
  decoder d(max_possible_packet_size, level);
  // Byte by byte: the decoder must wait for the whole packet.
  packet out;
  decode_error err;
  for (size_t i = 0; i < bytes.size(); ++i) {
    EXPECT_EQ(d.next(&out, &err), decoder::state::need_more) << "at byte " << i;
    d.feed(&bytes[i], 1);
  }
  EXPECT_EQ(d.next(&out, &err), decoder::state::packet) << err.message;
  EXPECT_EQ(d.next(&out, &err), decoder::state::need_more);
  return out;
}

properties all_publish_props() {
  properties p;
  p.set_number(property_id::payload_format_indicator, 1);
  p.set_number(property_id::message_expiry_interval, 3600);
  p.set_text(property_id::content_type, "application/json");
  p.set_text(property_id::response_topic, "reply/here");
  p.set_text(property_id::correlation_data, std::string("\x00\x01\xff", 3));
  p.set_number(property_id::topic_alias, 3);
  p.add_user("site", "plant-1");
  p.add_user("site", "plant-2");
  p.items.push_back(property{property_id::subscription_identifier, 268435455, {}, {}});
  return p;
}

TEST(MqttCodec, ConnectRoundTripBothLevels) {
  for (uint8_t level : {protocol_v311, protocol_v5}) {
    connect_packet c;
    c.protocol_level = level;
    c.clean_start = false;
    c.keep_alive = 30;
    c.client_id = "sensor-7";
    c.username = "user";
    c.password = std::string("p\0ss", 4);
    c.will = will_message{"status/sensor-7", "offline", 1, true, {}};
    if (level == protocol_v5) {
      c.props.set_number(property_id::session_expiry_interval, 600);
      c.props.set_number(property_id::receive_maximum, 10);
      c.props.set_number(property_id::maximum_packet_size, 4096);
      c.props.set_number(property_id::topic_alias_maximum, 5);
      c.props.set_number(property_id::request_response_information, 1);
      c.props.set_number(property_id::request_problem_information, 0);
      c.props.add_user("k", "v");
      c.will->props.set_number(property_id::will_delay_interval, 5);
      c.will->props.set_number(property_id::message_expiry_interval, 60);
      c.will->props.set_text(property_id::content_type, "text/plain");
    }
    EXPECT_EQ(std::get<connect_packet>(round_trip(c, level)), c);
  }
}

TEST(MqttCodec, Mqtt31Connect) {
  connect_packet c;
  c.protocol_name = "MQIsdp";
  c.protocol_level = 3;
  c.client_id = "old";
  EXPECT_EQ(std::get<connect_packet>(round_trip(c, protocol_v311)), c);
}

TEST(MqttCodec, EveryOtherPacketRoundTrips) {
  for (uint8_t level : {protocol_v311, protocol_v5}) {
    bool v5 = level == protocol_v5;
    std::vector<packet> packets;
    connack_packet ca{true, 0, {}};
    if (v5) {
      ca.props.set_number(property_id::receive_maximum, 100);
      ca.props.set_number(property_id::maximum_qos, 1);
      ca.props.set_number(property_id::retain_available, 1);
      ca.props.set_text(property_id::assigned_client_identifier, "auto-1");
      ca.props.set_number(property_id::server_keep_alive, 20);
      ca.props.set_text(property_id::reason_string, "fine");
      ca.props.set_number(property_id::wildcard_subscription_available, 1);
      ca.props.set_number(property_id::subscription_identifier_available, 1);
      ca.props.set_number(property_id::shared_subscription_available, 1);
      ca.props.set_text(property_id::response_information, "resp");
      ca.props.set_text(property_id::server_reference, "other:1883");
      ca.props.set_text(property_id::authentication_method, "none");
      ca.props.set_text(property_id::authentication_data, "x");
    }
    packets.push_back(ca);
    for (uint8_t qos : {0, 1, 2}) {
      publish_packet p;
      p.qos = qos;
      p.dup = qos > 0;
      p.retain = true;
      p.topic = "plant/line1/temp";
      p.packet_id = qos ? 42 : 0;
      p.payload = std::string("21.5\0x", 6);
      if (v5) p.props = all_publish_props();
      packets.push_back(p);
    }
    for (packet_type t :
         {packet_type::puback, packet_type::pubrec, packet_type::pubrel, packet_type::pubcomp}) {
      packets.push_back(ack_packet{t, 7, 0, {}});
      if (v5) {
        ack_packet a{t, 8, 0x80, {}};
        a.props.set_text(property_id::reason_string, "nope");
        packets.push_back(a);
        packets.push_back(ack_packet{t, 9, 0x10, {}});
      }
    }
    subscribe_packet s;
    s.packet_id = 3;
    s.subscriptions.push_back(subscription{"a/+/c", 1, false, false, 0});
    s.subscriptions.push_back(subscription{"#", 2, v5, v5, v5 ? uint8_t{2} : uint8_t{0}});
    s.subscriptions.push_back(subscription{"$share/g/x/#", 0, false, false, 0});
    if (v5) s.props.items.push_back(property{property_id::subscription_identifier, 77, {}, {}});
    packets.push_back(s);
    packets.push_back(sub_ack_packet{packet_type::suback, 3, {}, {0, 1, 2, 0x80}});
    unsubscribe_packet u;
    u.packet_id = 4;
    u.filters = {"a/+/c", "#"};
    if (v5) u.props.add_user("why", "done");
    packets.push_back(u);
    packets.push_back(sub_ack_packet{
        packet_type::unsuback, 4, {}, v5 ? std::vector<uint8_t>{0, 0x11} : std::vector<uint8_t>{}});
    packets.push_back(ping_packet{packet_type::pingreq});
    packets.push_back(ping_packet{packet_type::pingresp});
    packets.push_back(disconnect_packet{});
    if (v5) {
      disconnect_packet d{packet_type::disconnect, 0x04, {}};
      d.props.set_number(property_id::session_expiry_interval, 0);
      d.props.set_text(property_id::server_reference, "x");
      packets.push_back(d);
      packets.push_back(disconnect_packet{packet_type::auth, 0, {}});
      disconnect_packet a{packet_type::auth, 0x18, {}};
      a.props.set_text(property_id::authentication_method, "SCRAM");
      a.props.set_text(property_id::authentication_data, "abc");
      packets.push_back(a);
    }
    for (const packet& p : packets) {
      SCOPED_TRACE(std::string(packet_type_name(type_of(p))) + " v" + std::to_string(level));
      EXPECT_EQ(round_trip(p, level), p);
    }
  }
}

TEST(MqttCodec, KnownBytes) {
  // PINGREQ, and a QoS 1 PUBLISH "a/b" id 10 payload "x" (3.1.1).
  EXPECT_EQ(encode_packet(ping_packet{}, protocol_v311), std::string("\xC0\x00", 2));
  publish_packet p;
  p.qos = 1;
  p.topic = "a/b";
  p.packet_id = 10;
  p.payload = "x";
  EXPECT_EQ(encode_packet(p, protocol_v311), std::string("\x32\x08\x00\x03"
                                                         "a/b\x00\x0Ax",
                                                         10));
}

TEST(MqttCodec, VariableByteIntegerBoundaries) {
  for (uint32_t n : {0u, 127u, 128u, 16383u, 16384u, 2097151u, 2097152u}) {
    publish_packet p;
    p.topic = "t";
    p.payload.assign(n, 'x');
    std::string bytes = encode_packet(p, protocol_v311);
    EXPECT_EQ(bytes.size(), 1 + variable_byte_integer_size(static_cast<uint32_t>(3 + n)) + 3 + n);
    decoder d;
    d.feed(bytes.data(), bytes.size());
    packet out;
    decode_error e;
    ASSERT_EQ(d.next(&out, &e), decoder::state::packet);
    EXPECT_EQ(std::get<publish_packet>(out).payload.size(), n);
  }
}

decode_error decode_fails(const std::string& bytes, uint8_t level = protocol_v311, size_t max = 1 << 20) {
  decoder d(max, level);
  d.feed(bytes.data(), bytes.size());
  packet out;
  decode_error e;
  auto st = d.next(&out, &e);
  EXPECT_EQ(st, decoder::state::error) << "bytes decoded (or need more): " << bytes.size();
  return e;
}

TEST(MqttCodec, Errors) {
  // Remaining length of five bytes.
  EXPECT_EQ(decode_fails(std::string("\x30\xFF\xFF\xFF\xFF\x01", 6)).reason, reason_code::malformed_packet);
  // Over the maximum packet size: refused from the header alone.
  EXPECT_EQ(decode_fails(std::string("\x30\xFF\xFF\x7F", 4), protocol_v311, 1000).reason,
            reason_code::packet_too_large);
  // Wildcard in a PUBLISH topic.
  EXPECT_EQ(decode_fails(std::string("\x30\x05\x00\x03"
                                     "a/#",
                                     7))
                .reason,
            reason_code::topic_name_invalid);
  // Invalid UTF-8 (lone continuation byte) in the topic, and U+0000.
  auto e =
      decode_fails(std::string("\x30\x05\x00\x03"
                               "a\x80"
                               "b",
                               7));
  EXPECT_EQ(e.reason, reason_code::malformed_packet);
  EXPECT_EQ(e.offset, 2u);
  EXPECT_EQ(decode_fails(std::string("\x30\x05\x00\x03"
                                     "a\0b",
                                     7))
                .reason,
            reason_code::malformed_packet);
  // QoS 3, QoS 0 with DUP.
  EXPECT_EQ(decode_fails(std::string("\x36\x03\x00\x01t", 5)).reason, reason_code::malformed_packet);
  EXPECT_EQ(decode_fails(std::string("\x38\x03\x00\x01t", 5)).reason, reason_code::malformed_packet);
  // Truncated body: string longer than the packet.
  EXPECT_EQ(decode_fails(std::string("\x30\x03\x00\x09t", 5)).reason, reason_code::malformed_packet);
  // SUBSCRIBE with wrong fixed header flags, and without filters.
  EXPECT_EQ(decode_fails(std::string("\x80\x03\x00\x01\x00", 5)).reason, reason_code::malformed_packet);
  EXPECT_EQ(decode_fails(std::string("\x82\x02\x00\x01", 4)).reason, reason_code::protocol_error);
  // Invalid filter "a/b#".
  EXPECT_EQ(decode_fails(std::string("\x82\x09\x00\x01\x00\x04"
                                     "a/b#\x00",
                                     11))
                .reason,
            reason_code::topic_filter_invalid);
  // Reserved packet type 0, AUTH in 3.1.1.
  EXPECT_EQ(decode_fails(std::string("\x00\x00", 2)).reason, reason_code::malformed_packet);
  EXPECT_EQ(decode_fails(std::string("\xF0\x00", 2)).reason, reason_code::malformed_packet);
  // Unsupported protocol level.
  EXPECT_EQ(decode_fails(std::string("\x10\x0C\x00\x04MQTT\x06\x02\x00\x3C\x00\x00", 14)).reason,
            reason_code::unsupported_protocol_version);
  // CONNECT reserved flag.
  EXPECT_EQ(decode_fails(std::string("\x10\x0C\x00\x04MQTT\x04\x03\x00\x3C\x00\x00", 14)).reason,
            reason_code::malformed_packet);
  // v5: duplicate property, property not allowed in the packet, bad value.
  EXPECT_EQ(decode_fails(std::string("\x30\x0E\x00\x01t\x0A\x02\x00\x00\x00\x01\x02\x00\x00\x00\x02", 16),
                         protocol_v5)
                .reason,
            reason_code::protocol_error);
  EXPECT_EQ(decode_fails(std::string("\x30\x09\x00\x01t\x05\x11\x00\x00\x00\x01", 11), protocol_v5).reason,
            reason_code::protocol_error);
  EXPECT_EQ(decode_fails(std::string("\x30\x06\x00\x01t\x02\x01\x02", 8), protocol_v5).reason,
            reason_code::protocol_error);
  // v5: unknown property id.
  EXPECT_EQ(decode_fails(std::string("\x30\x06\x00\x01t\x02\x7E\x00", 8), protocol_v5).reason,
            reason_code::malformed_packet);
  // Extra bytes after PINGREQ's (empty) body.
  EXPECT_EQ(decode_fails(std::string("\xC0\x01\x00", 3)).reason, reason_code::malformed_packet);
}

TEST(MqttCodec, ErrorIsSticky) {
  decoder d;
  std::string bad("\x00\x00", 2);
  d.feed(bad.data(), bad.size());
  packet p;
  decode_error e;
  EXPECT_EQ(d.next(&p, &e), decoder::state::error);
  std::string good = encode_packet(ping_packet{}, protocol_v311);
  d.feed(good.data(), good.size());
  EXPECT_EQ(d.next(&p, &e), decoder::state::error);
}

TEST(MqttCodec, SeveralPacketsInOneFeed) {
  std::string bytes = encode_packet(ping_packet{}, protocol_v311) +
                      encode_packet(ack_packet{packet_type::puback, 5, 0, {}}, protocol_v311);
  decoder d(max_possible_packet_size, protocol_v311);
  d.feed(bytes.data(), bytes.size());
  packet p;
  decode_error e;
  ASSERT_EQ(d.next(&p, &e), decoder::state::packet);
  EXPECT_EQ(type_of(p), packet_type::pingreq);
  ASSERT_EQ(d.next(&p, &e), decoder::state::packet);
  EXPECT_EQ(std::get<ack_packet>(p).packet_id, 5);
  EXPECT_EQ(d.next(&p, &e), decoder::state::need_more);
}

// The decoder drops its buffer once everything fed is decoded (idle
// connections keep none); offsets in the stream must still count from its
// first byte.
TEST(MqttCodec, OffsetsAfterTheBufferIsFreed) {
  publish_packet pub;
  pub.topic = "a/topic/longer/than/the/small/string/buffer";
  pub.payload = std::string(100, 'x');
  std::string first = encode_packet(pub, protocol_v311);
  decoder d(max_possible_packet_size, protocol_v311);
  d.feed(first.data(), first.size());
  packet p;
  decode_error e;
  ASSERT_EQ(d.next(&p, &e), decoder::state::packet);
  EXPECT_EQ(d.next(&p, &e), decoder::state::need_more);
  EXPECT_EQ(d.buffered(), 0u);
  EXPECT_EQ(d.stream_offset(), first.size());
  // A packet split over two feeds after the buffer was freed.
  d.feed(first.data(), 3);
  EXPECT_EQ(d.next(&p, &e), decoder::state::need_more);
  d.feed(first.data() + 3, first.size() - 3);
  ASSERT_EQ(d.next(&p, &e), decoder::state::packet);
  EXPECT_EQ(std::get<publish_packet>(p).payload, pub.payload);
  std::string bad("\x30\xFF\xFF\xFF\xFF\x01", 6);  // remaining length over 4 bytes
  d.feed(bad.data(), bad.size());
  ASSERT_EQ(d.next(&p, &e), decoder::state::error);
  EXPECT_EQ(e.offset, 2 * first.size() + 1);
}

TEST(MqttCodec, DecoderLearnsLevelFromConnect) {
  connect_packet c;
  c.protocol_level = protocol_v5;
  c.client_id = "x";
  std::string bytes = encode_packet(c, protocol_v5);
  decoder d;
  d.feed(bytes.data(), bytes.size());
  packet p;
  decode_error e;
  ASSERT_EQ(d.next(&p, &e), decoder::state::packet);
  EXPECT_EQ(d.protocol_level(), protocol_v5);
}

TEST(MqttUtf8, Validation) {
  EXPECT_TRUE(valid_mqtt_utf8("plain/ascii"));
  EXPECT_TRUE(valid_mqtt_utf8("温度/传感器"));
  EXPECT_TRUE(valid_mqtt_utf8("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(valid_mqtt_utf8(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_mqtt_utf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(valid_mqtt_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(valid_mqtt_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_mqtt_utf8("\xE4\xB8"));          // truncated
  EXPECT_FALSE(valid_mqtt_utf8("\xFF"));
}

TEST(MqttTopic, Validation) {
  EXPECT_TRUE(valid_topic_name("a/b/c"));
  EXPECT_TRUE(valid_topic_name("/"));
  EXPECT_FALSE(valid_topic_name(""));
  EXPECT_FALSE(valid_topic_name("a/+"));
  EXPECT_FALSE(valid_topic_name("a/#"));
  for (const char* f :
       {"#", "+", "a/#", "+/+", "a/+/b", "/+", "+/", "$SYS/#", "$share/g/a/#", "sport/+/player1"}) {
    EXPECT_TRUE(valid_topic_filter(f)) << f;
  }
  for (const char* f :
       {"", "a#", "a/#/b", "a+", "+a/b", "a/b+", "#/", "$share/g", "$share//a", "$share/g+/a"}) {
    EXPECT_FALSE(valid_topic_filter(f)) << f;
  }
}

TEST(MqttTopic, Matching) {
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  EXPECT_TRUE(topic_matches("sport/#", "sport"));
  EXPECT_TRUE(topic_matches("#", "a/b"));
  EXPECT_TRUE(topic_matches("sport/+/player1", "sport/tennis/player1"));
  EXPECT_FALSE(topic_matches("sport/+/player1", "sport/tennis/x/player1"));
  EXPECT_TRUE(topic_matches("+/+", "/finance"));
  EXPECT_TRUE(topic_matches("/+", "/finance"));
  EXPECT_FALSE(topic_matches("+", "/finance"));
  EXPECT_FALSE(topic_matches("#", "$SYS/uptime"));
  EXPECT_FALSE(topic_matches("+/uptime", "$SYS/uptime"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/uptime"));
  EXPECT_FALSE(topic_matches("a/b", "a/b/c"));
  EXPECT_FALSE(topic_matches("a/b/c", "a/b"));
}

}  // namespace
}  // namespace liandu::connect::mqtt
