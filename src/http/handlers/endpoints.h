#pragma once

#include "http/handlers/api.h"

namespace liandu::http::handlers {

// One function per endpoint; each lives in the file named after it.
response ping(api& a, const request& req);
response health(api& a, const request& req);
response write_v1(api& a, const request& req);
response write_v2(api& a, const request& req);
response query(api& a, const request& req);
response metrics(api& a, const request& req);
response tokens(api& a, const request& req);
response webhooks(api& a, const request& req);
response databases(api& a, const request& req);
response users(api& a, const request& req);
response openapi(api& a, const request& req);
response rules(api& a, const request& req);
response alerts(api& a, const request& req);
response twins(api& a, const request& req);
// /api/v1/<c> for one config_collection; prefix is "/api/v1/<c>/".
response collection(api& a, const request& req, std::string_view prefix, config_collection& c);
response live(api& a, const request& req, std::shared_ptr<live_channel> channel);

}  // namespace liandu::http::handlers
