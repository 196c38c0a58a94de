#include "milter/session.h"

#include <fmt/core.h>

#include <algorithm>

#include "base/ascii.h"
#include "canon/header.h"
#include "conf/values.h"
#include "milter/header_text.h"
#include "milter/log.h"
#include "signer/signature.h"

namespace signet::milter {
namespace {

std::string or_noqueue(const std::string& id) { return id.empty() ? "NOQUEUE" : id; }

}  // namespace

void Session::note_queue_id(std::string_view id) {
  if (!id.empty()) queue_id_ = std::string(id);
}

Verdict Session::begin(std::shared_ptr<const Runtime> runtime, std::string sasl_login, std::string envelope_from,
                       std::string queue_id) {
  // A message still in progress ended without its end of message or abort
  // (libmilter aborts it first; a caller driving the Session may not): it
  // gets its one log line too.
  if (runtime_) abandon("a new message began before this one ended");
  reset();
  runtime_ = std::move(runtime);
  started_ = std::chrono::steady_clock::now();
  note_queue_id(queue_id);
  envelope_from_ = std::move(envelope_from);
  facts_.sasl_login = std::move(sasl_login);
  facts_.daemon_name = daemon_name_;
  facts_.client_addr = client_addr_;
  facts_.envelope_domain = conf::address_domain(envelope_from_);
  trust_ = conf::trust_reason(runtime_->config, facts_);
  if (trust_.empty()) {
    count(Outcome::Skipped, Reason::Untrusted);
    Log::info(fmt::format("{}: not signed: untrusted (client={} service={} no SASL login) from=<{}>",
                          or_noqueue(queue_id_), client_addr_, daemon_name_.empty() ? "-" : daemon_name_,
                          envelope_from_));
    reset();  // done with this message: no second log line at close
    return Verdict::Accept;
  }
  return Verdict::Continue;
}

void Session::header(std::string_view name, std::string_view value) {
  // Outside a message, or after its end of headers: nothing to sign it into.
  // (After end_of_headers the signers hold views of fields_, which must not move.)
  if (!runtime_ || headers_ended_ || !error_.empty()) return;
  const conf::Config& cfg = runtime_->config;
  if (++field_count_ > cfg.max_headers) {
    fault(Reason::HeaderLimit, fmt::format("more than {} header fields (max-headers)", cfg.max_headers));
    return;
  }
  if (name.size() + value.size() + 1 > cfg.max_header_bytes) {
    fault(Reason::HeaderLimit, fmt::format("header field {} is longer than {} bytes (max-header-bytes)",
                                           name.substr(0, 64), cfg.max_header_bytes));
    return;
  }
  header_bytes_ += name.size() + value.size() + 1;
  if (header_bytes_ > cfg.max_total_header_bytes) {
    fault(Reason::HeaderLimit, fmt::format("the header fields total more than {} bytes (max-total-header-bytes)",
                                           cfg.max_total_header_bytes));
    return;
  }
  if (value.find('\0') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    fault(Reason::Malformed, "NUL byte in a header field");
    return;
  }
  // What is signed is the field as the MTA will put it on the wire.
  std::string field = field_from_mta(name, value, leading_space_);
  const std::string_view f(field);
  if (facts_.from_domain.empty() && canon::header_name_equals(f, "from")) {
    facts_.from_domain = conf::address_domain(canon::header_value(f));
  } else if (canon::header_name_equals(f, "dkim-signature")) {
    // Our own d=/s= already on the message: re-injected, not signed again.
    auto sig = parse_signature(canon::header_value(f));
    if (sig && sig->tag("d") && sig->tag("s")) already_.emplace_back(ascii::to_lower(sig->domain), sig->selector);
  }
  fields_.push_back(std::move(field));
}

Verdict Session::end_of_headers(std::string_view queue_id, std::int64_t now, const keystore::HiddenKeys& hidden) {
  if (!runtime_) return Verdict::Accept;      // no message in progress: nothing to decide
  if (headers_ended_) return Verdict::Continue;  // said once already
  note_queue_id(queue_id);
  if (!error_.empty()) return trouble(error_kind_, error_);
  const conf::Config& cfg = runtime_->config;
  const conf::Route route = conf::route(cfg, facts_);
  if (route.streams.empty()) {
    count(Outcome::Skipped, Reason::NoStream);
    Log::info(fmt::format("{}: not signed: no stream (trust={} login={} service={} from-domain={})",
                          or_noqueue(queue_id_), trust_, facts_.sasl_login.empty() ? "-" : facts_.sasl_login,
                          daemon_name_.empty() ? "-" : daemon_name_,
                          facts_.from_domain.empty() ? "-" : facts_.from_domain));
    reset();
    return Verdict::Accept;
  }
  std::vector<std::string> skipped;
  const std::vector<std::string_view> fields(fields_.begin(), fields_.end());
  for (const conf::Stream* stream : route.streams) {
    if (keys_at(*stream, now, hidden, &skipped).empty()) {
      if (!skipped.empty()) continue;  // re-injected: already signed with this stream's keys
      return trouble(Reason::NoKey, "stream " + stream->name + " has no key to sign with");
    }
    signers_.push_back(StreamSigner{stream, std::make_unique<MessageSigner>(stream->signing, fields)});
  }
  if (signers_.empty()) {
    count(Outcome::Skipped, Reason::AlreadySigned);
    std::string list;
    for (const auto& s : skipped) list += (list.empty() ? "" : ", ") + s;
    Log::info(fmt::format("{}: not signed: already carries our signature ({})", or_noqueue(queue_id_), list));
    reset();
    return Verdict::Accept;
  }
  headers_ended_ = true;
  return Verdict::Continue;
}

std::vector<SigningKey> Session::keys_at(const conf::Stream& stream, std::int64_t now, const keystore::HiddenKeys& hidden,
                                        std::vector<std::string>* skipped) const {
  std::vector<SigningKey> keys;
  for (SigningKey& k : runtime_->keys->keys_for(stream.name, now, hidden)) {
    const bool ours_present = std::find(already_.begin(), already_.end(),
                                        std::make_pair(ascii::to_lower(k.domain), k.selector)) != already_.end();
    if (!ours_present) {
      keys.push_back(std::move(k));
    } else if (skipped) {
      skipped->push_back(k.domain + "/" + k.selector);
    }
  }
  return keys;
}

Verdict Session::body(std::string_view chunk) {
  // Body bytes before the end of headers would be missing from the body hash.
  if (runtime_ && !headers_ended_ && error_.empty()) {
    fault(Reason::Malformed, "body before the end of the header (MTA events out of order)");
  }
  if (signers_.empty()) return Verdict::Continue;
  body_bytes_ += chunk.size();
  if (body_bytes_ > runtime_->config.max_body_bytes) {
    return trouble(Reason::BodyLimit,
                   fmt::format("the body is longer than {} bytes (max-body-bytes)", runtime_->config.max_body_bytes));
  }
  for (auto& s : signers_) s.signer->add_body(chunk);
  return Verdict::Continue;
}

EndResult Session::end_of_message(std::string_view queue_id, std::int64_t now, const keystore::HiddenKeys& hidden) {
  EndResult out;
  if (!runtime_) return out;  // no message in progress (ended already, or never begun): Accept, no line
  note_queue_id(queue_id);
  if (!headers_ended_ && error_.empty()) {
    fault(Reason::Malformed, "end of message before the end of the header (MTA events out of order)");
  }
  if (!error_.empty()) {
    out.verdict = trouble(error_kind_, error_);
    return out;
  }
  const auto signing_started = std::chrono::steady_clock::now();
  // The slots of the keys that signed, counted once the message is signed
  // whole (a later stream's failure leaves the message unsigned).
  std::vector<ledger::Slot*> counted;
  std::string added;
  std::uint64_t body_bytes = 0;
  std::vector<std::string> streams;
  std::size_t dry = 0;  // streams in dry-run: signed and logged, not inserted
  for (auto& s : signers_) {
    // The keys whose windows hold the signing time t= (a cutover may have
    // passed since the headers), from the snapshot this message started with.
    const std::vector<SigningKey> keys = keys_at(*s.stream, now, hidden, nullptr);
    if (keys.empty()) {
      out.verdict = trouble(Reason::NoKey, "stream " + s.stream->name + " has no key to sign with at " + std::to_string(now));
      return out;
    }
    // What the log line reports: the keys themselves, one signature each, in order.
    for (const SigningKey& k : keys) {
      added += fmt::format(" d={} s={} a={}{}", k.domain, k.selector, algorithm_name(k.key->algorithm()),
                           s.stream->dry_run ? " (dry-run)" : "");
    }
    auto fields = s.signer->finish(keys, now);
    if (!fields) {
      out.headers.clear();
      out.verdict = trouble(Reason::SigningFailed, "stream " + s.stream->name + ": " + fields.error().message);
      return out;
    }
    body_bytes = s.signer->body_bytes();
    streams.push_back(s.stream->name);
    if (s.stream->dry_run) {
      ++dry;  // computed exactly as it would be inserted, then dropped
      continue;
    }
    for (HeaderField& field : fields.value()) out.headers.push_back(std::move(field));
    for (const SigningKey& k : keys) {
      if (ledger::Slot* slot = runtime_->slot(s.stream->name, k.domain, k.selector, algorithm_name(k.key->algorithm()))) {
        counted.push_back(slot);
      }
    }
  }
  const double signing_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - signing_started).count();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  std::string stream_list;
  for (const auto& n : streams) stream_list += (stream_list.empty() ? "" : ",") + n;
  Log::info(fmt::format("{}: {} stream={}{} body={} ms={:.1f} trust={}", or_noqueue(queue_id_),
                        dry == signers_.size() ? "dry-run, not inserted:" : "signed", stream_list, added, body_bytes,
                        ms, trust_));
  // Counted after the log line, so the ledger never holds a signature the
  // log does not (a crash in between loses it from the ledger, within the
  // one flush interval a crash may lose anyway).
  if (dry == signers_.size()) {
    count(Outcome::Skipped, Reason::DryRun);
  } else {
    count(Outcome::Signed, Reason::None);
    for (ledger::Slot* slot : counted) slot->add(now);
    if (runtime_->metrics) runtime_->metrics->signed_message(signing_seconds, body_bytes);
  }
  // The message is over (its line written); queue_id() stays for the caller's
  // own lines until reset().
  signers_.clear();
  runtime_.reset();
  out.verdict = Verdict::Continue;
  return out;
}

void Session::fault(Reason kind, std::string why) {
  error_ = std::move(why);
  error_kind_ = kind;
}

Verdict Session::trouble(Reason kind, const std::string& why) {
  const bool tempfail = runtime_->config.on_error == conf::OnError::Tempfail;
  count(tempfail ? Outcome::Tempfailed : Outcome::Unsigned, kind);
  Log::warn(fmt::format("{}: NOT SIGNED: {}; {} (on-error={})", or_noqueue(queue_id_), why,
                        tempfail ? "tempfailed" : "accepted unsigned", tempfail ? "tempfail" : "accept"));
  reset();  // the message is finished from our side: one line, and only one
  return tempfail ? Verdict::Tempfail : Verdict::Accept;
}

void Session::abandon(std::string_view why) {
  if (runtime_) {
    count(Outcome::Abandoned, Reason::Aborted);
    Log::info(fmt::format("{}: not signed: {}", or_noqueue(queue_id_), why));
  }
  reset();
}

void Session::reset() {
  signers_.clear();  // first: they refer to the Runtime's profiles and to fields_
  runtime_.reset();
  facts_ = {};
  trust_.clear();
  queue_id_.clear();
  envelope_from_.clear();
  fields_.clear();
  field_count_ = 0;
  header_bytes_ = 0;
  body_bytes_ = 0;
  error_.clear();
  error_kind_ = Reason::None;
  already_.clear();
  headers_ended_ = false;
}

}  // namespace signet::milter
