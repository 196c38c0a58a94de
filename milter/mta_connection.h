// milter/mta_connection.h — one MTA connection's milter conversation
// (protocol version 6, as Postfix >= 2.6 and Sendmail >= 8.14 speak it, and
// the older versions 2-5): each command the MTA sends in, the replies it
// waits for out. No sockets here: milter/server.h reads the packets and
// writes what this appends; tests and the fuzzer feed it packets directly.
//
// The wire (libmilter's mfdef.h, Postfix src/milter/milter8.c): a packet is
// a 4-byte big-endian length, then that many bytes: one command byte and
// its data. Strings are NUL-terminated. What each command carries and what
// signet answers:
//   O  OPTNEG   version, actions, steps offered (3 x uint32) -> 'O' with
//               min(version, 6), what milter/negotiate.h asks and, when the
//               MTA offers SMFIF_SETSYMLIST, the macro list of each stage
//               (uint32 stage + names + NUL each)
//   D  MACRO    the command they go with, then name NUL value NUL pairs; no
//               reply. Kept per stage; a stage's new macros drop those of the
//               stages after it (a new MAIL is a new transaction)
//   C  CONNECT  host NUL, family ('4' '6' 'L' 'U'), port (2 bytes), address
//               NUL -> continue, or accept/tempfail over max-connections;
//               under SMFIP_NR_CONN no reply, and that verdict is the
//               answer to each MAIL on the connection
//   M  MAIL     argv (NUL each) -> Session::begin's verdict
//   L  HEADER   name NUL value NUL -> no reply under SMFIP_NR_HDR
//   N  EOH      -> Session::end_of_headers' verdict
//   B  BODY     a chunk -> no reply under SMFIP_NR_BODY (a verdict other
//               than continue is held for end of message)
//   E  BODYEOB  a last chunk (may be empty) -> 'i' SMFIR_INSHEADER per
//               signature (index 0, name NUL, value NUL), then continue, or
//               tempfail
//   A  ABORT    the message ends unsigned (one log line if one was open); no reply
//   K  QUIT_NC  the connection's state is reset, a new one follows on the socket
//   Q  QUIT     the conversation ends
//   H R T U     (only sent to an MTA that cannot skip them) -> continue
// A reply is given only where the MTA waits for one, so the server can send
// a batch of replies with one write.
//
// handle(cmd, data, out): one command; appends the replies to `out`; returns Close after
// SMFIC_QUIT or a malformed command (why() says what was wrong: the server
// logs it and closes; the MTA then applies its milter_default_action).
// Every outcome of the signing path is a verdict, never an exception: one
// that escapes anyway is logged as an internal error and the message
// accepted unsigned (docs/design.md "Errors").
// closed(why): the connection ended (MTA gone, timeout, shutdown): a message
// in flight is abandoned with one log line.
// Thread safety: one MtaConnection per connection, used by one thread at a
// time; `open` is read, never written.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "milter/runtime.h"
#include "milter/session.h"

namespace signet::milter {

// The packet framing (mfdef.h MILTER_LEN_BYTES).
inline constexpr std::size_t kPacketLengthBytes = 4;
// Why a message in flight ended when the MTA aborts it or goes away (the
// words of signet's log line since it ran under libmilter, which operators'
// log searches know).
inline constexpr const char* kAborted = "aborted (the MTA sent abort or the connection was lost)";

class MtaConnection {
 public:
  enum class Next { Read, Close };

  // max-connections: `rank` is how many connections were open when this one
  // was accepted, itself included: it is over the limit when that is, even
  // if the MTA's connect command comes after others were accepted (with
  // SMFIP_NR_CONN the MTA does not wait for each connect's answer). `open`:
  // the connections open now, the rank of a new connection on the same
  // socket (SMFIC_QUIT_NC).
  MtaConnection(RuntimeHolder& holder, const std::atomic<int>& open, int rank)
      : holder_(holder), open_(open), rank_(rank) {}

  Next handle(char cmd, std::string_view data, std::string& out);

  // Every complete packet at the front of `bytes`, handled in order, the
  // replies appended to `out`. `bytes`: what was consumed; `need`: the size
  // of the next packet, length included, as far as known (at least 4), so
  // the caller can make room for it; next = Close after SMFIC_QUIT or on bad
  // input: a malformed command, or a length of 0 or over `max_packet`
  // (why() says which).
  struct Consumed {
    std::size_t bytes = 0;
    std::size_t need = kPacketLengthBytes;
    Next next = Next::Read;
  };
  Consumed consume(std::string_view bytes, std::size_t max_packet, std::string& out);
  void closed(std::string_view why);
  const std::string& why() const { return why_; }

  // The value of a macro the MTA sent ("{name}" and "name" are the same
  // macro), the latest stage first; "" when not sent.
  std::string macro(std::string_view name) const;

 private:
  enum Stage { kConnect, kHelo, kMail, kRcpt, kData, kEoh, kEom, kStages };
  Next malformed(std::string why);
  Next optneg(std::string_view data, std::string& out);
  void macros(std::string_view data);
  Next connect(std::string_view data, std::string& out);
  Next mail(std::string_view data, std::string& out);
  Next header(std::string_view data, std::string& out);
  void body(std::string_view chunk);
  void end_of_message(std::string& out);
  void reset_connection();

  RuntimeHolder& holder_;
  const std::atomic<int>& open_;
  int rank_;
  Session session_;
  bool leading_space_ = false;   // SMFIP_HDR_LEADSPC negotiated
  bool header_no_reply_ = false;  // SMFIP_NR_HDR
  bool body_no_reply_ = false;   // SMFIP_NR_BODY
  bool connect_no_reply_ = false;  // SMFIP_NR_CONN
  // A connect verdict other than continue under SMFIP_NR_CONN: the answer
  // to every MAIL on this connection (the log line was written at connect).
  std::optional<Verdict> refused_;
  // A body verdict other than continue under SMFIP_NR_BODY: given at end of
  // message (milter/negotiate.h).
  std::optional<Verdict> held_;
  std::vector<std::pair<std::string, std::string>> macros_[kStages];
  std::string why_;
};

// Appends one packet (length, cmd, data) to `out`.
void append_packet(std::string& out, char cmd, std::string_view data);

}  // namespace signet::milter
