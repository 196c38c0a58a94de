// milter/session.h — one SMTP connection's messages, from the MTA's events to
// the DKIM-Signature headers to insert. No protocol here: mta_connection.cc feeds
// it, and tests drive it directly.
//
// The path of one message:
//   begin()        trust decision (conf/router.h); untrusted -> Skip, logged
//   header()       each field stored once, as it travels (milter/header_text.h),
//                  bounded by max-headers / max-header-bytes / max-total-header-bytes;
//                  the From domain
//                  and our own d=/s= already present are noted as they pass
//   end_of_headers(now, hidden)
//                  route to stream(s); the stream has a key at `now`? our own
//                  d=/s= already present (re-injection) -> not again; one
//                  MessageSigner per stream, from its prepared SignProfile
//   body()         chunks straight into the canonicalizer+hasher, never stored,
//                  at most max-body-bytes of them
//   end_of_message(now, hidden)
//                  the keys whose windows hold t = now (a cutover may have
//                  passed since the headers), from the snapshot the message
//                  started with; signatures, or the on-error policy; one log line.
//                  A stream in dry-run signs and logs, and its headers are dropped.
// The clock and the hidden keys (DNS watch) are inputs, from the caller.
//
// Events may come in any order: outside a message (before begin(), after its
// end) they do nothing and log nothing; a header after the end of headers is
// ignored; body or end of message before it, and a begin() while a message is
// in progress, end that message with its log line. So every begin() leaves
// exactly one log line, and signatures come only from end_of_message.
// Counting: when the Runtime carries instruments (milter/runtime.h), every
// message's outcome and reason goes to its Metrics, and every signature
// inserted to its key's slot at `now` (the ledger's day), with relaxed atomics
// only (milter/metrics.h): the signing path never waits on a scrape or a flush.
// Every outcome is a value (never an exception). A message signet cannot sign
// is accepted unsigned, or tempfailed when on-error = tempfail, with one log
// line saying why. Thread safety: one Session per connection (libmilter runs
// a thread per connection); the Runtime it holds is immutable.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/router.h"
#include "milter/metrics.h"
#include "milter/runtime.h"
#include "signer/signer.h"

namespace signet::milter {

enum class Verdict {
  Continue,  // keep sending this message
  Accept,    // pass it unchanged, no more callbacks for it
  Tempfail,  // 4xx: the operator chose tempfail on trouble
};

struct EndResult {
  Verdict verdict = Verdict::Accept;
  std::vector<HeaderField> headers;  // in the order they should appear, top first
};

class Session {
 public:
  Session() = default;
  Session(std::string client_addr, std::string daemon_name)
      : client_addr_(std::move(client_addr)), daemon_name_(std::move(daemon_name)) {}
  void set_client(std::string client_addr, std::string daemon_name) {
    client_addr_ = std::move(client_addr);
    daemon_name_ = std::move(daemon_name);
  }
  // SMFIP_HDR_LEADSPC in force on this connection (milter/header_text.h).
  void set_leading_space(bool on) { leading_space_ = on; }

  Verdict begin(std::shared_ptr<const Runtime> runtime, std::string sasl_login, std::string envelope_from,
                std::string queue_id);
  void header(std::string_view name, std::string_view value);
  Verdict end_of_headers(std::string_view queue_id, std::int64_t now, const keystore::HiddenKeys& hidden);
  // Continue, or the on-error verdict once the body is longer than max-body-bytes.
  Verdict body(std::string_view chunk);
  EndResult end_of_message(std::string_view queue_id, std::int64_t now, const keystore::HiddenKeys& hidden);
  void reset();  // after end of message: ready for the connection's next message
  // The MTA aborted the message or the connection closed mid-message: one log
  // line if a message was in progress, then reset().
  void abandon(std::string_view why);

  const std::string& queue_id() const { return queue_id_; }

 private:
  Verdict trouble(Reason kind, const std::string& why);
  void fault(Reason kind, std::string why);  // the message cannot be signed; said at the next decision
  void count(Outcome o, Reason r) const {
    if (runtime_ && runtime_->metrics) runtime_->metrics->message(o, r);
  }
  void note_queue_id(std::string_view id);

  std::string client_addr_, daemon_name_;
  bool leading_space_ = true;
  std::shared_ptr<const Runtime> runtime_;
  conf::MessageFacts facts_;
  std::string trust_;
  std::string queue_id_;
  std::string envelope_from_;
  std::vector<std::string> fields_;  // "Name: value" as it travels, CRLF folding
  std::size_t field_count_ = 0;
  std::size_t header_bytes_ = 0;  // all fields so far, for max-total-header-bytes
  std::uint64_t body_bytes_ = 0;  // for max-body-bytes
  std::string error_;  // set when the message cannot be signed
  Reason error_kind_ = Reason::None;
  struct StreamSigner {
    const conf::Stream* stream;
    std::unique_ptr<MessageSigner> signer;
  };
  // The stream's keys at `now`, less those whose d=/s= the message already carries.
  std::vector<SigningKey> keys_at(const conf::Stream& stream, std::int64_t now, const keystore::HiddenKeys& hidden,
                                  std::vector<std::string>* skipped) const;
  std::vector<std::pair<std::string, std::string>> already_;  // (d=, s=) already on the message
  std::vector<StreamSigner> signers_;
  bool headers_ended_ = false;  // end_of_headers said Continue: fields_ is final
  std::chrono::steady_clock::time_point started_;
};

}  // namespace signet::milter
