// milter/negotiate.h: what signet asks the MTA for at option negotiation —
// the steps it skips, the steps it does not answer, the macros per stage.
#include <gtest/gtest.h>
#include <libmilter/mfapi.h>

#include <map>
#include <string>

#include "milter/negotiate.h"

using namespace signet::milter;

namespace {

// What Postfix 3.x offers (src/milter/milter8.c: every event flag it knows,
// every action incl. SMFIF_SETSYMLIST).
constexpr unsigned long kAllActions = 0x1FF;
constexpr unsigned long kAllSteps = 0x001FFFFF;

std::map<int, std::string> macro_map(const Negotiated& n) {
  std::map<int, std::string> out;
  for (const auto& m : n.macros) out[m.stage] = std::string(m.names);
  return out;
}

TEST(Negotiate, AsksOnlyToAddHeadersAndToChooseMacros) {
  const Negotiated n = negotiate(kAllActions, kAllSteps);
  EXPECT_EQ(n.actions, static_cast<unsigned long>(SMFIF_ADDHDRS | SMFIF_SETSYMLIST));
}

TEST(Negotiate, SkipsTheStepsSignetDoesNotUse) {
  const Negotiated n = negotiate(kAllActions, kAllSteps);
  for (unsigned long skipped : {SMFIP_NOHELO, SMFIP_NORCPT, SMFIP_NODATA, SMFIP_NOUNKNOWN}) {
    EXPECT_TRUE(n.steps & skipped) << std::hex << skipped;
  }
  // Needed: connect info, envelope from, headers, end of header, body, end of message.
  for (unsigned long needed : {SMFIP_NOCONNECT, SMFIP_NOMAIL, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NOBODY}) {
    EXPECT_FALSE(n.steps & needed) << std::hex << needed;
  }
}

TEST(Negotiate, NoReplyOnlyWhereTheAnswerIsAlwaysContinue) {
  const Negotiated n = negotiate(kAllActions, kAllSteps);
  EXPECT_TRUE(n.steps & SMFIP_NR_HDR);
  EXPECT_TRUE(n.steps & SMFIP_NR_BODY);
  EXPECT_TRUE(n.body_no_reply);
  // Connect's one other answer (max-connections) waits for MAIL.
  EXPECT_TRUE(n.steps & SMFIP_NR_CONN);
  EXPECT_TRUE(n.connect_no_reply);
  // MAIL (untrusted) and end of header (no stream) can answer accept,
  // sparing the MTA the rest of the message: they are answered.
  for (unsigned long answered : {SMFIP_NR_MAIL, SMFIP_NR_EOH}) {
    EXPECT_FALSE(n.steps & answered) << std::hex << answered;
  }
  EXPECT_TRUE(n.steps & SMFIP_HDR_LEADSPC);
  EXPECT_TRUE(n.leading_space);
}

TEST(Negotiate, AsksOnlyWhatTheMtaOffers) {
  // An MTA offering no protocol extensions (an old Sendmail): nothing asked
  // that it would not understand, and body chunks are answered.
  const Negotiated n = negotiate(SMFIF_ADDHDRS, SMFIP_NOHELO | SMFIP_NORCPT);
  EXPECT_EQ(n.steps, static_cast<unsigned long>(SMFIP_NOHELO | SMFIP_NORCPT));
  EXPECT_FALSE(n.body_no_reply);
  EXPECT_FALSE(n.leading_space);
  EXPECT_EQ(n.actions, static_cast<unsigned long>(SMFIF_ADDHDRS));
  EXPECT_TRUE(n.macros.empty());  // no SMFIF_SETSYMLIST offered: the MTA's defaults
}

TEST(Negotiate, MacroListsHoldWhatSignetReads) {
  const auto m = macro_map(negotiate(kAllActions, kAllSteps));
  EXPECT_EQ(m.at(SMFIM_CONNECT), "{daemon_name} {client_addr}");
  EXPECT_EQ(m.at(SMFIM_ENVFROM), "{auth_authen} {mail_addr} i");
  EXPECT_EQ(m.at(SMFIM_EOH), "i");
}

TEST(Negotiate, StagesSignetReadsNothingAtGetANameNoMtaDefines) {
  // Postfix sends each stage's macros even for a skipped step, before every
  // header and every body chunk, and an empty list means its default list:
  // the stages signet reads nothing at name a macro that never has a value.
  const auto m = macro_map(negotiate(kAllActions, kAllSteps));
  for (int stage : {SMFIM_HELO, SMFIM_ENVRCPT, SMFIM_DATA, SMFIM_EOM}) {
    ASSERT_TRUE(m.count(stage)) << stage;
    EXPECT_EQ(m.at(stage), kNoMacro) << stage;
  }
  EXPECT_EQ(m.size(), 7u);  // every stage SMFIM_CONNECT..SMFIM_EOH has its list
}

}  // namespace
