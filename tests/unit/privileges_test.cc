// milter/privileges.h master_key_warning: the start-up warning that a signer
// process restarted as `user` will not read the master key file, given when
// that file is another uid's and only its owner may read it, and not
// otherwise.
#include "milter/privileges.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keystore/sealed.h"
#include "test_util.h"

namespace signet::milter {
namespace {

TEST(MasterKeyWarning, ARootOwnedMasterKeyFileThatARestartedSignerCannotRead) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the daemon starts as root; chown)";
  ::unsetenv("CREDENTIALS_DIRECTORY");
  const std::string dir = signet::testing::temp_dir("master-warning");
  const std::string path = dir + "/master.key";
  ASSERT_TRUE(keystore::write_master_key(path, keystore::MasterKey::generate().value()).ok());
  conf::Config cfg;
  cfg.sealed_keys = true;
  cfg.privilege_separation = true;
  cfg.user = "nobody";
  cfg.master_key_file = path;
  auto w = master_key_warning(cfg);
  ASSERT_TRUE(w.has_value());
  EXPECT_NE(w->find("restarted after a crash runs as nobody"), std::string::npos) << *w;
  EXPECT_NE(w->find("chown nobody " + path), std::string::npos) << *w;
  EXPECT_NE(w->find("signet-master-key"), std::string::npos) << *w;

  // Nothing to say: no signer process, no user, plain keys, or the file nobody's.
  for (auto change : {+[](conf::Config& c) { c.privilege_separation = false; }, +[](conf::Config& c) { c.user.clear(); },
                      +[](conf::Config& c) { c.sealed_keys = false; }}) {
    conf::Config other = cfg;
    change(other);
    EXPECT_FALSE(master_key_warning(other).has_value());
  }
  ASSERT_EQ(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)), 0);
  EXPECT_FALSE(master_key_warning(cfg).has_value());
}

}  // namespace
}  // namespace signet::milter
