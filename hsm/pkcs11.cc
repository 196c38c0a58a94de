// The PKCS#11 calls behind hsm/pkcs11.h: module, token sessions, keys.
#include "hsm/pkcs11.h"

#include <dlfcn.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <optional>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <chrono>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "signer/base64.h"
#include "signer/external_key.h"

namespace signet::hsm {
namespace {

std::string rv_name(CK_RV rv) {
  switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT (wrong PIN)";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SESSION_CLOSED: return "CKR_SESSION_CLOSED";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
    case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
    case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID (the token cannot do this algorithm)";
    case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
    case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR 0x%lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

// A failure that a new session (and login, and object lookup) may cure: the
// token was removed, restarted, or forgot our login.
bool session_lost(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_TOKEN_NOT_PRESENT ||
         rv == CKR_DEVICE_REMOVED || rv == CKR_DEVICE_ERROR || rv == CKR_USER_NOT_LOGGED_IN ||
         rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_GENERAL_ERROR || rv == CKR_KEY_HANDLE_INVALID ||
         rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_SLOT_ID_INVALID;
}

// The token's label is blank-padded to 32 bytes (PKCS#11 v2.40 §3.2 CK_TOKEN_INFO).
std::string padded_label(const CK_UTF8CHAR* label) {
  std::string s(reinterpret_cast<const char*>(label), 32);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// ------------------------------------------------------------------ Module

// How often a missing token, or a missing key object, makes the module be
// initialised again to look for it (Module::reinitialize).
constexpr std::chrono::seconds kTokenRetry{1};
constexpr std::chrono::seconds kObjectRetry{5};

// One loaded module per path for the life of the process: modules are never
// dlclose'd (a module's threads and atexit handlers outlive any handle).
class Module {
 public:
  static Result<std::shared_ptr<Module>> get(const std::string& path) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<Module>> loaded;
    std::lock_guard<std::mutex> lock(mu);
    // A module whose file is gone is refused at (re)load, even if an earlier
    // load left it mapped: the operator removed it, the key set must say so.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return permanent_error("PKCS#11 module " + path + ": " + std::strerror(errno) + " (module-path= in the key's URI)");
    }
    if (auto it = loaded.find(path); it != loaded.end()) return it->second;
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* why = ::dlerror();
      return permanent_error("PKCS#11 module " + path + " does not load: " + (why ? why : "dlopen failed"));
    }
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(h, "C_GetFunctionList"));
    CK_FUNCTION_LIST_PTR f = nullptr;
    if (!get_list || get_list(&f) != CKR_OK || !f) {
      return permanent_error("PKCS#11 module " + path + " has no usable C_GetFunctionList: not a PKCS#11 module");
    }
    auto m = std::shared_ptr<Module>(new Module(path, f));
    if (Status s = m->initialize(); !s) return s.error();
    loaded[path] = m;
    return m;
  }

  CK_FUNCTION_LIST_PTR f() const { return f_; }
  const std::string& path() const { return path_; }

  // Every call into the module goes through here: after a fork the child
  // initialises the module again first (PKCS#11 v2.40 §6.6.1), and a module
  // without OS locking gets one call at a time.
  template <typename Call>
  CK_RV call(Call&& c) {
    if (Status s = ensure_initialized(); !s) return CKR_CRYPTOKI_NOT_INITIALIZED;
    std::shared_lock<std::shared_mutex> running(init_mu_);  // not while it is initialised again
    if (serialize_) {
      std::lock_guard<std::mutex> lock(call_mu_);
      return c(f_);
    }
    return c(f_);
  }
  // Changes each time the module is initialised again (a fork, a token that
  // came back): sessions and handles of an older epoch are gone.
  std::uint64_t epoch() const { return epoch_.load(); }

  // A token that left its slot does not come back in it, and an object
  // restored into a token is not seen again: SoftHSM2 (and other modules)
  // read their slots and objects at C_Initialize. So once a token or a key
  // is missing the module is finalised and initialised again (every session
  // of the process is closed with it; their tokens see the new epoch), at
  // most once per `interval`, and not if another thread already did it
  // since `seen`.
  void reinitialize(std::uint64_t seen, std::chrono::seconds interval) {
    std::unique_lock<std::shared_mutex> lock(init_mu_);
    const auto now = std::chrono::steady_clock::now();
    if (epoch_.load() != seen || now - last_reinit_ < interval) return;
    last_reinit_ = now;
    (void)f_->C_Finalize(nullptr);
    (void)initialize();
    ++epoch_;
  }

 private:
  Module(std::string path, CK_FUNCTION_LIST_PTR f) : path_(std::move(path)), f_(f) {}

  Status initialize() {
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;  // our threads sign at once: the module must lock
    CK_RV rv = f_->C_Initialize(&args);
    if (rv == CKR_CANT_LOCK) {
      serialize_ = true;  // it cannot: we serialise every call instead
      rv = f_->C_Initialize(nullptr);
    }
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) rv = CKR_OK;  // another user of the module in this process
    if (rv != CKR_OK) return permanent_error("PKCS#11 module " + path_ + ": C_Initialize failed: " + rv_name(rv));
    pid_ = ::getpid();
    return Ok{};
  }

  Status ensure_initialized() {
    if (pid_.load() == ::getpid()) return Ok{};
    std::unique_lock<std::shared_mutex> lock(init_mu_);
    if (pid_.load() == ::getpid()) return Ok{};
    (void)f_->C_Finalize(nullptr);  // the parent's state, copied by fork
    if (Status s = initialize(); !s) return s;
    ++epoch_;
    return Ok{};
  }

  std::string path_;
  CK_FUNCTION_LIST_PTR f_;
  bool serialize_ = false;
  std::mutex call_mu_;
  std::shared_mutex init_mu_;
  std::chrono::steady_clock::time_point last_reinit_{};
  std::atomic<pid_t> pid_{0};
  std::atomic<std::uint64_t> epoch_{0};
};

// ------------------------------------------------------------------- Token

Result<std::string> read_pin(const Pkcs11Uri& uri, const std::string& where) {
  if (uri.pin_source.empty()) return uri.pin_value;  // may be empty: a token without login
  std::ifstream in(uri.pin_source);
  if (!in) return permanent_error(where + ": cannot read the PIN file " + uri.pin_source + " (pin-source=)");
  struct stat st {};
  if (::stat(uri.pin_source.c_str(), &st) == 0 && (st.st_mode & 004) != 0) {
    return permanent_error(where + ": the PIN file " + uri.pin_source + " is readable by everyone: chmod 600 it");
  }
  std::string pin;
  std::getline(in, pin);
  if (!pin.empty() && pin.back() == '\r') pin.pop_back();
  return pin;
}

class Token;

// A session taken from the pool; given back, or dropped as broken.
struct Lease {
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  std::uint64_t generation = 0;
  std::uint64_t epoch = 0;  // the module's: a handle of another epoch may now name another session
};

class Token {
 public:
  static Result<std::shared_ptr<Token>> get(const Pkcs11Uri& uri) {
    auto module = Module::get(uri.module_path);
    if (!module) return module.error();
    static std::mutex mu;
    static std::map<std::string, std::weak_ptr<Token>> tokens;
    // Keys of one token share it when they log in the same way.
    const std::string key = uri.module_path + '\n' + uri.token + '\n' + uri.slot_id + '\n' + uri.pin_source + '\n' +
                            uri.pin_value;
    std::lock_guard<std::mutex> lock(mu);
    if (auto t = tokens[key].lock()) return t;
    auto t = std::make_shared<Token>(*module, uri);
    tokens[key] = t;
    return t;
  }

  Token(std::shared_ptr<Module> module, const Pkcs11Uri& uri) : module_(std::move(module)), uri_(uri) {}
  ~Token() {
    std::lock_guard<std::mutex> lock(mu_);
    if (module_->epoch() == epoch_) {
      for (CK_SESSION_HANDLE s : idle_) module_->call([&](CK_FUNCTION_LIST_PTR f) { return f->C_CloseSession(s); });
    }
  }

  std::string where() const { return "PKCS#11 token " + uri_.token + " (module " + uri_.module_path + ")"; }
  Module& module() { return *module_; }

  // An idle session, or a new one (logged in: the login is the token's, for
  // every session of this process, PKCS#11 v2.40 §5.6 C_Login).
  Result<Lease> take(bool read_write = false) {
    std::unique_lock<std::mutex> lock(mu_);
    if (module_->epoch() != epoch_) {  // initialised again: the old sessions are gone
      idle_.clear();
      slot_.reset();
      epoch_ = module_->epoch();
      ++generation_;
    }
    if (!read_write && !idle_.empty()) {
      Lease l{idle_.back(), generation_, epoch_};
      idle_.pop_back();
      return l;
    }
    const std::uint64_t gen = generation_;
    const std::uint64_t epoch = epoch_;
    lock.unlock();
    auto slot = find_slot();
    if (!slot) {
      // The token may be back in a slot the module has not looked at yet.
      module_->reinitialize(epoch, kTokenRetry);
      if (module_->epoch() == epoch) return slot.error();
      return take(read_write);  // once: a second initialisation within a second does not happen
    }
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    const CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
    CK_RV rv = module_->call([&](CK_FUNCTION_LIST_PTR f) { return f->C_OpenSession(*slot, flags, nullptr, nullptr, &s); });
    if (rv != CKR_OK) return temporary_error(where() + ": cannot open a session: " + rv_name(rv));
    auto pin = read_pin(uri_, where());
    if (!pin) {
      close(s);
      return pin.error();
    }
    // A PIN the token refused is not tried again (a real HSM locks the PIN
    // after a few tries); a new PIN in pin-source= is tried on the next call.
    std::array<unsigned char, crypto_generichash_BYTES> pin_hash{};
    crypto_generichash(pin_hash.data(), pin_hash.size(), reinterpret_cast<const unsigned char*>(pin->data()),
                       pin->size(), nullptr, 0);
    {
      std::lock_guard<std::mutex> relock(mu_);
      if (refused_pin_ && *refused_pin_ == pin_hash) {
        sodium_memzero(pin->data(), pin->size());
        close(s);
        return permanent_error(where() + ": login refused earlier with this PIN (CKR_PIN_INCORRECT); not tried again "
                               "until pin-source= changes");
      }
    }
    rv = module_->call([&](CK_FUNCTION_LIST_PTR f) {
      return f->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin->data()), pin->size());
    });
    sodium_memzero(pin->data(), pin->size());
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      if (rv == CKR_PIN_INCORRECT) {
        std::lock_guard<std::mutex> relock(mu_);
        refused_pin_ = pin_hash;
      }
      close(s);
      return permanent_error(where() + ": login failed: " + rv_name(rv) + "; check pin-source=");
    }
    return Lease{s, gen, epoch};
  }

  // Back to the pool, or (broken) every session of the token closed, so the
  // next take() opens and logs in again.
  void give_back(const Lease& l, bool broken) {
    std::lock_guard<std::mutex> lock(mu_);
    if (l.epoch != module_->epoch()) return;  // closed with the module already
    if (broken) {
      if (l.generation == generation_) {
        ++generation_;
        for (CK_SESSION_HANDLE s : idle_) close(s);
        idle_.clear();
        if (slot_) {
          const CK_SLOT_ID slot = *slot_;
          module_->call([&](CK_FUNCTION_LIST_PTR f) { return f->C_CloseAllSessions(slot); });
        }
        slot_.reset();
      }
      close(l.session);
      return;
    }
    if (l.generation == generation_ && idle_.size() < 64) {
      idle_.push_back(l.session);
    } else {
      close(l.session);
    }
  }

  std::uint64_t generation() {
    std::lock_guard<std::mutex> lock(mu_);
    return generation_;
  }

 private:
  void close(CK_SESSION_HANDLE s) {
    if (s == CK_INVALID_HANDLE) return;
    module_->call([&](CK_FUNCTION_LIST_PTR f) { return f->C_CloseSession(s); });
  }

  // The slot whose token has our label (slot ids may change across restarts
  // of a token: looked up again after every loss).
  Result<CK_SLOT_ID> find_slot() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (slot_) return *slot_;
    }
    CK_ULONG n = 0;
    CK_RV rv = module_->call([&](CK_FUNCTION_LIST_PTR f) { return f->C_GetSlotList(CK_TRUE, nullptr, &n); });
    std::vector<CK_SLOT_ID> slots(n);
    if (rv == CKR_OK && n > 0) {
      rv = module_->call([&](CK_FUNCTION_LIST_PTR f) { return f->C_GetSlotList(CK_TRUE, slots.data(), &n); });
    }
    if (rv != CKR_OK) return temporary_error(where() + ": C_GetSlotList failed: " + rv_name(rv));
    slots.resize(n);
    for (CK_SLOT_ID id : slots) {
      if (!uri_.slot_id.empty() && std::to_string(id) != uri_.slot_id) continue;
      CK_TOKEN_INFO info{};
      if (module_->call([&](CK_FUNCTION_LIST_PTR f) { return f->C_GetTokenInfo(id, &info); }) != CKR_OK) continue;
      if (padded_label(info.label) != uri_.token) continue;
      std::lock_guard<std::mutex> lock(mu_);
      slot_ = id;
      return id;
    }
    return permanent_error(where() + ": no token with this label is present (softhsm2-util --show-slots, or "
                           "p11tool --list-tokens, lists them)");
  }

  std::shared_ptr<Module> module_;
  Pkcs11Uri uri_;
  std::mutex mu_;
  std::vector<CK_SESSION_HANDLE> idle_;
  std::optional<CK_SLOT_ID> slot_;
  std::optional<std::array<unsigned char, crypto_generichash_BYTES>> refused_pin_;
  std::uint64_t generation_ = 0;
  std::uint64_t epoch_ = 0;
};

// --------------------------------------------------------------- objects

std::vector<CK_ATTRIBUTE> match_template(const Pkcs11Uri& uri, CK_OBJECT_CLASS* cls) {
  std::vector<CK_ATTRIBUTE> t{{CKA_CLASS, cls, sizeof *cls}};
  if (!uri.object.empty()) t.push_back({CKA_LABEL, const_cast<char*>(uri.object.data()), uri.object.size()});
  if (!uri.id.empty()) t.push_back({CKA_ID, const_cast<char*>(uri.id.data()), uri.id.size()});
  return t;
}

// The objects of class `cls` the URI names, at most 8.
Result<std::vector<CK_OBJECT_HANDLE>> find_objects(Module& m, CK_SESSION_HANDLE s, const Pkcs11Uri& uri,
                                                   CK_OBJECT_CLASS cls, CK_RV* rv_out = nullptr) {
  auto t = match_template(uri, &cls);
  CK_RV rv = m.call([&](CK_FUNCTION_LIST_PTR f) { return f->C_FindObjectsInit(s, t.data(), t.size()); });
  std::vector<CK_OBJECT_HANDLE> found(8);
  CK_ULONG n = 0;
  if (rv == CKR_OK) rv = m.call([&](CK_FUNCTION_LIST_PTR f) { return f->C_FindObjects(s, found.data(), found.size(), &n); });
  m.call([&](CK_FUNCTION_LIST_PTR f) { return f->C_FindObjectsFinal(s); });
  if (rv_out) *rv_out = rv;
  if (rv != CKR_OK) return temporary_error("C_FindObjects failed: " + rv_name(rv));
  found.resize(n);
  return found;
}

// The key's private and public objects (what generate_key must not find
// and destroy_key destroys).
Result<std::vector<CK_OBJECT_HANDLE>> key_objects(Module& m, CK_SESSION_HANDLE s, const Pkcs11Uri& uri) {
  std::vector<CK_OBJECT_HANDLE> out;
  for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
    auto found = find_objects(m, s, uri, cls);
    if (!found) return found.error();
    out.insert(out.end(), found->begin(), found->end());
  }
  return out;
}

std::string object_name(const Pkcs11Uri& uri) {
  std::string out;
  if (!uri.object.empty()) out = "object " + uri.object;
  if (!uri.id.empty()) out += std::string(out.empty() ? "" : ", ") + "id " + std::to_string(uri.id.size()) + " bytes";
  return out;
}

Result<std::string> get_attribute(Module& m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = m.call([&](CK_FUNCTION_LIST_PTR f) { return f->C_GetAttributeValue(s, o, &a, 1); });
  if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 65536) {
    return permanent_error("attribute 0x" + std::to_string(type) + " unreadable: " + rv_name(rv));
  }
  std::string v(a.ulValueLen, '\0');
  a.pValue = v.data();
  rv = m.call([&](CK_FUNCTION_LIST_PTR f) { return f->C_GetAttributeValue(s, o, &a, 1); });
  if (rv != CKR_OK) return permanent_error("attribute unreadable: " + rv_name(rv));
  v.resize(a.ulValueLen);
  return v;
}

// RFC 6376 §3.6.1: an RSA p= is the DER SubjectPublicKeyInfo.
Result<std::string> rsa_spki_base64(const std::string& modulus, const std::string& exponent, int* bits) {
  BIGNUM* n = BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus.data()), static_cast<int>(modulus.size()), nullptr);
  BIGNUM* e = BN_bin2bn(reinterpret_cast<const unsigned char*>(exponent.data()), static_cast<int>(exponent.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pkey = nullptr;
  std::string out;
  if (n && e && bld && ctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 && (params = OSSL_PARAM_BLD_to_param(bld)) &&
      EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1) {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(pkey, &der);
    if (len > 0) out = base64::encode(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len)));
    OPENSSL_free(der);
    *bits = BN_num_bits(n);
  }
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  ERR_clear_error();
  if (out.empty()) return permanent_error("the token's RSA public key does not encode");
  return out;
}

// CKA_EC_POINT of an Ed25519 key: the 32-byte key, DER OCTET STRING-wrapped
// (PKCS#11 v3.0 §2.3.5) or, from some modules, bare.
std::optional<std::string> ed25519_point(const std::string& v) {
  if (v.size() == 34 && v[0] == 0x04 && v[1] == 32) return v.substr(2);
  if (v.size() == 32) return v;
  return std::nullopt;
}

// RFC 8017 §9.2 step 2 (note 1): the DER DigestInfo prefix for SHA-256.
constexpr unsigned char kSha256DigestInfo[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                               0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

// ------------------------------------------------------------------- the key

class Pkcs11Key final : public ExternalSigner {
 public:
  Pkcs11Key(std::shared_ptr<Token> token, Pkcs11Uri uri, Algorithm a, int bits)
      : token_(std::move(token)), uri_(std::move(uri)), algorithm_(a), bits_(bits) {}

  Result<std::string> sign_digest(const Sha256Digest& digest) const override {
    std::string why;
    for (int attempt = 0; attempt < 2; ++attempt) {  // the second on a new session, login and lookup
      auto lease = token_->take();
      if (!lease) {
        why = lease.error().message;
        if (lease.error().temporary && attempt == 0) continue;  // e.g. the module was initialised again
        return temporary_error(why + "; " + object_name(uri_) + " not used");
      }
      CK_RV rv = CKR_OK;
      auto handle = find(lease->session, lease->generation, &rv);
      if (!handle) {
        token_->give_back(*lease, session_lost(rv));
        why = handle.error().message;
        if (session_lost(rv)) continue;
        if (rv == CKR_OK && attempt == 0) {  // not found: perhaps restored since the module read the token
          const std::uint64_t epoch = token_->module().epoch();
          token_->module().reinitialize(epoch, kObjectRetry);
          if (token_->module().epoch() != epoch) continue;
        }
        return temporary_error(where() + ": " + why);
      }
      auto sig = sign(lease->session, *handle, digest, &rv);
      if (sig) {
        token_->give_back(*lease, false);
        return sig;
      }
      why = sig.error().message;
      token_->give_back(*lease, session_lost(rv));
      forget_handle();
      if (!session_lost(rv)) break;
    }
    return temporary_error(where() + ": " + why);
  }

 private:
  std::string where() const { return token_->where() + ", " + object_name(uri_); }

  // The private key's handle in this process, looked up once per session generation.
  Result<CK_OBJECT_HANDLE> find(CK_SESSION_HANDLE s, std::uint64_t gen, CK_RV* rv) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (handle_ != CK_INVALID_HANDLE && handle_gen_ == gen) return handle_;
    }
    auto found = find_objects(token_->module(), s, uri_, CKO_PRIVATE_KEY, rv);
    if (!found) return found.error();
    if (found->empty()) {
      return temporary_error("the private key object is not in the token (deleted?)");
    }
    std::lock_guard<std::mutex> lock(mu_);
    handle_ = found->front();
    handle_gen_ = gen;
    return handle_;
  }
  void forget_handle() const {
    std::lock_guard<std::mutex> lock(mu_);
    handle_ = CK_INVALID_HANDLE;
  }

  Result<std::string> sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const Sha256Digest& digest, CK_RV* rv) const {
    std::string input;
    CK_MECHANISM mech{CKM_EDDSA, nullptr, 0};  // no parameters: PureEdDSA Ed25519 (RFC 8463 §3)
    if (algorithm_ == Algorithm::RsaSha256) {
      mech.mechanism = CKM_RSA_PKCS;  // the token adds the PKCS#1 v1.5 padding around the DigestInfo
      input.assign(reinterpret_cast<const char*>(kSha256DigestInfo), sizeof kSha256DigestInfo);
    }
    input.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    Module& m = token_->module();
    *rv = m.call([&](CK_FUNCTION_LIST_PTR f) { return f->C_SignInit(s, &mech, key); });
    if (*rv != CKR_OK) return temporary_error("C_SignInit failed: " + rv_name(*rv));
    std::string sig(algorithm_ == Algorithm::RsaSha256 ? static_cast<std::size_t>((bits_ + 7) / 8) : 64, '\0');
    CK_ULONG len = sig.size();
    *rv = m.call([&](CK_FUNCTION_LIST_PTR f) {
      return f->C_Sign(s, reinterpret_cast<CK_BYTE_PTR>(input.data()), input.size(),
                       reinterpret_cast<CK_BYTE_PTR>(sig.data()), &len);
    });
    if (*rv != CKR_OK) return temporary_error("C_Sign failed: " + rv_name(*rv));
    sig.resize(len);
    return sig;
  }

  std::shared_ptr<Token> token_;
  Pkcs11Uri uri_;
  Algorithm algorithm_;
  int bits_;
  mutable std::mutex mu_;
  mutable CK_OBJECT_HANDLE handle_ = CK_INVALID_HANDLE;
  mutable std::uint64_t handle_gen_ = 0;
};

// A session that is given back when it goes out of scope (broken on request).
class Held {
 public:
  Held(Token& t, Lease l) : t_(t), l_(l) {}
  Held(const Held&) = delete;  // given back once
  Held& operator=(const Held&) = delete;
  ~Held() { t_.give_back(l_, broken_); }
  CK_SESSION_HANDLE s() const { return l_.session; }
  void broken() { broken_ = true; }

 private:
  Token& t_;
  Lease l_;
  bool broken_ = false;
};

// What generating and destroying a key both start from: the token (module
// loaded, slot found), a read-write session logged in, and the key objects
// that already carry the URI's label/id. The session goes back to the pool
// when this is dropped.
struct KeyObjects {
  std::shared_ptr<Token> token;
  std::string where;  // the token and the object, for messages
  std::unique_ptr<Held> held;
  std::vector<CK_OBJECT_HANDLE> found;
  Module& module() const { return token->module(); }
};

Result<KeyObjects> key_objects_rw(const Pkcs11Uri& uri) {
  auto token = Token::get(uri);
  if (!token) return token.error();
  KeyObjects k{*token, (*token)->where() + ", " + object_name(uri), nullptr, {}};
  auto lease = k.token->take(/*read_write=*/true);
  if (!lease) return permanent_error(lease.error().message);
  k.held = std::make_unique<Held>(*k.token, *lease);
  auto found = key_objects(k.module(), k.held->s(), uri);
  if (!found) return permanent_error(k.where + ": " + found.error().message);
  k.found = std::move(*found);
  return k;
}

}  // namespace

Result<PrivateKey> open_key(const Pkcs11Uri& uri) {
  auto token = Token::get(uri);
  if (!token) return token.error();
  Token& t = **token;
  const std::string where = t.where() + ", " + object_name(uri);
  auto lease = t.take();
  if (!lease) return permanent_error(lease.error().message);
  Held held(t, *lease);
  Module& m = t.module();
  auto priv = find_objects(m, held.s(), uri, CKO_PRIVATE_KEY);
  if (!priv) {
    held.broken();
    return permanent_error(where + ": " + priv.error().message);
  }
  if (priv->empty()) return permanent_error(where + ": no private key object with this label/id in the token");
  if (priv->size() > 1) return permanent_error(where + ": several private keys match: give a unique object= or id=");
  auto type = get_attribute(m, held.s(), priv->front(), CKA_KEY_TYPE);
  if (!type || type->size() != sizeof(CK_KEY_TYPE)) return permanent_error(where + ": its key type is unreadable");
  CK_KEY_TYPE kt = 0;
  std::memcpy(&kt, type->data(), sizeof kt);
  auto pub = find_objects(m, held.s(), uri, CKO_PUBLIC_KEY);
  const std::optional<CK_OBJECT_HANDLE> pub_obj =
      pub && pub->size() == 1 ? std::optional<CK_OBJECT_HANDLE>(pub->front()) : std::nullopt;
  int bits = 256;
  std::string p;
  Algorithm a;
  if (kt == CKK_RSA) {
    a = Algorithm::RsaSha256;
    // The modulus and exponent are public attributes of the private key too.
    const CK_OBJECT_HANDLE from = pub_obj.value_or(priv->front());
    auto n = get_attribute(m, held.s(), from, CKA_MODULUS);
    auto e = get_attribute(m, held.s(), from, CKA_PUBLIC_EXPONENT);
    if (!n || !e) return permanent_error(where + ": the RSA public key is unreadable");
    auto spki = rsa_spki_base64(*n, *e, &bits);
    if (!spki) return permanent_error(where + ": " + spki.error().message);
    if (bits < kMinRsaBits) {
      return permanent_error(where + ": an RSA key of " + std::to_string(bits) + " bits; DKIM needs at least 1024 (RFC 8301)");
    }
    p = std::move(*spki);
  } else if (kt == CKK_EC_EDWARDS) {
    a = Algorithm::Ed25519Sha256;
    if (!pub_obj) return permanent_error(where + ": no public key object beside the Ed25519 private key (its p= is read from it)");
    auto point = get_attribute(m, held.s(), *pub_obj, CKA_EC_POINT);
    auto raw = point ? ed25519_point(*point) : std::nullopt;
    if (!raw) return permanent_error(where + ": its public key is not a 32-byte Ed25519 point (Ed448 is not DKIM's)");
    p = base64::encode(*raw);  // RFC 8463 §4: the raw 32-byte key
  } else {
    return permanent_error(where + ": neither an RSA nor an Ed25519 key");
  }
  auto signer = std::make_shared<const Pkcs11Key>(*token, uri, a, bits);
  return PrivateKey::external(signer, a, bits, std::move(p));
}

Result<PrivateKey> generate_key(const Pkcs11Uri& uri, Algorithm algorithm, int rsa_bits) {
  if (rsa_bits < kMinRsaBits && algorithm == Algorithm::RsaSha256) return permanent_error("RSA below 1024 bits is refused (RFC 8301)");
  {
    auto k = key_objects_rw(uri);
    if (!k) return k.error();
    const std::string& where = k->where;
    const Held& held = *k->held;
    Module& m = k->module();
    if (!k->found.empty()) {
      return permanent_error(where + ": the token already holds an object with this label/id: a key is never "
                             "generated over another; choose another object=");
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = static_cast<CK_ULONG>(rsa_bits);
    CK_BYTE e65537[] = {0x01, 0x00, 0x01};
    // edwards25519 as SoftHSM2 2.6 and PKCS#11 v3.0 §2.3.10 take it: the
    // RFC 8410 OID 1.3.101.112 in DER, or the PrintableString "edwards25519".
    CK_BYTE oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    CK_BYTE printable[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};
    auto common = [&](std::vector<CK_ATTRIBUTE>& v) {
      v.push_back({CKA_TOKEN, &yes, sizeof yes});
      if (!uri.object.empty()) v.push_back({CKA_LABEL, const_cast<char*>(uri.object.data()), uri.object.size()});
      if (!uri.id.empty()) v.push_back({CKA_ID, const_cast<char*>(uri.id.data()), uri.id.size()});
    };
    std::vector<CK_ATTRIBUTE> pub{{CKA_VERIFY, &yes, sizeof yes}};
    std::vector<CK_ATTRIBUTE> priv{{CKA_SIGN, &yes, sizeof yes},
                                   {CKA_PRIVATE, &yes, sizeof yes},
                                   {CKA_SENSITIVE, &yes, sizeof yes},  // never readable...
                                   {CKA_EXTRACTABLE, &no, sizeof no}};  // ...nor wrappable out of the token
    common(pub);
    common(priv);
    CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    if (algorithm == Algorithm::RsaSha256) {
      pub.push_back({CKA_MODULUS_BITS, &bits, sizeof bits});
      pub.push_back({CKA_PUBLIC_EXPONENT, e65537, sizeof e65537});
    } else {
      mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
      pub.push_back({CKA_EC_PARAMS, oid, sizeof oid});
    }
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    auto gen = [&] {
      return m.call([&](CK_FUNCTION_LIST_PTR f) {
        return f->C_GenerateKeyPair(held.s(), &mech, pub.data(), pub.size(), priv.data(), priv.size(), &hpub, &hpriv);
      });
    };
    CK_RV rv = gen();
    if (rv != CKR_OK && algorithm == Algorithm::Ed25519Sha256) {
      pub.back() = {CKA_EC_PARAMS, printable, sizeof printable};
      rv = gen();
    }
    if (rv != CKR_OK) return permanent_error(where + ": C_GenerateKeyPair failed: " + rv_name(rv));
  }
  return open_key(uri);
}

Status destroy_key(const Pkcs11Uri& uri) {
  auto k = key_objects_rw(uri);
  if (!k) return k.error();
  for (CK_OBJECT_HANDLE o : k->found) {
    const CK_RV rv = k->module().call([&](CK_FUNCTION_LIST_PTR f) { return f->C_DestroyObject(k->held->s(), o); });
    if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID) {
      return permanent_error(k->where + ": C_DestroyObject failed: " + rv_name(rv));
    }
  }
  return Ok{};
}

}  // namespace signet::hsm
