// A minimal provider the refused test plugins export in their various wrong ways.
#pragma once

#include <mailroom/plugin.hpp>

#include <stdexcept>

class MinimalEmail final : public mailroom::EmailProvider {
 public:
  explicit MinimalEmail(mailroom::PluginContext&) {}
  mailroom::SendReceipt send(const mailroom::OutgoingEmail&) override { return {"minimal"}; }
  mailroom::VerifyReport verify() override { return {}; }
};

#define MINIMAL_MANIFEST(name) \
  "{\"name\":\"" name "\",\"version\":\"1\",\"description\":\"refusal test\",\"config_schema\":true}"
