#include "doctor/postfix_config.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "base/ascii.h"

namespace signet::doctor {

const std::vector<std::string> kParameters = {
    "mail_version",          "compatibility_level",    "queue_directory",
    "mail_owner",            "smtpd_milters",          "non_smtpd_milters",
    "smtpd_milter_maps",     "milter_protocol",        "milter_default_action",
    "milter_connect_timeout", "milter_macro_daemon_name", "smtp_line_length_limit",
    "disable_mime_output_conversion", "content_filter", "receive_override_options",
};

namespace {

const std::string kEmpty;

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// Splits "name = value" (postconf's output form); false without " = ".
bool split_assignment(std::string_view line, std::string_view& name, std::string_view& value) {
  const std::size_t eq = line.find('=');
  if (eq == std::string_view::npos) return false;
  name = ascii::trim(line.substr(0, eq));
  value = ascii::trim(line.substr(eq + 1));
  return !name.empty();
}

// Runs argv, returns its stdout; fails with its stderr (first line) or the
// exec error. stdin is /dev/null.
Result<std::string> run(const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) return permanent_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) return permanent_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    if (errno == ENOENT) ::execv("/usr/sbin/postconf", args.data());  // root's PATH may lack /usr/sbin
    std::fprintf(stderr, "cannot run %s: %s (is Postfix installed?)\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  std::string stdout_text, stderr_text;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&stdout_text, &stderr_text};
  int open = 2;
  char buf[1 << 14];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string command;
  for (const std::string& a : argv) command += (command.empty() ? "" : " ") + a;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string_view first = lines(stderr_text).empty() ? std::string_view() : lines(stderr_text).front();
    return permanent_error(command + " failed: " + (first.empty() ? "exit status " + std::to_string(WEXITSTATUS(status)) : std::string(first)));
  }
  return stdout_text;
}

}  // namespace

const std::string& PostfixConfig::param(std::string_view name) const {
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

const std::string& PostfixConfig::param(const Service& s, std::string_view name) const {
  auto it = s.overrides.find(name);
  return it == s.overrides.end() ? param(name) : it->second;
}

bool PostfixConfig::chrooted(const Service& s) const {
  if (s.chroot == "y") return true;
  if (s.chroot != "-") return false;
  const std::string& level = param("compatibility_level");
  return level.empty() || level[0] == '0';
}

std::vector<const Service*> PostfixConfig::running(std::string_view command) const {
  std::vector<const Service*> out;
  for (const Service& s : services) {
    if (s.command == command) out.push_back(&s);
  }
  return out;
}

std::string PostfixConfig::where(const Service* s, std::string_view name) const {
  if (s && overridden(*s, name)) return "master.cf " + s->id() + " -o " + std::string(name);
  return "main.cf " + std::string(name);
}

std::map<std::string, std::string, std::less<>> parse_parameters(std::string_view text) {
  std::map<std::string, std::string, std::less<>> out;
  for (std::string_view line : lines(text)) {
    std::string_view name, value;
    if (split_assignment(line, name, value)) out[std::string(name)] = std::string(value);
  }
  return out;
}

Result<std::vector<Service>> parse_master(std::string_view postconf_M, std::string_view postconf_P) {
  std::vector<Service> services;
  for (std::string_view line : lines(postconf_M)) {
    if (ascii::trim(line).empty()) continue;
    std::istringstream in{std::string(line)};
    std::vector<std::string> cols;
    for (std::string w; cols.size() < 8 && in >> w;) cols.push_back(w);
    if (cols.size() < 8) {
      return permanent_error("postconf -M: a master.cf line with fewer than 8 columns: " + std::string(line));
    }
    Service s;
    s.name = cols[0];
    s.type = cols[1];
    s.chroot = cols[4];
    s.command = cols[7];
    services.push_back(std::move(s));
  }
  // "service/type/name = value": the service name may hold ':' (an inet
  // address) but not '/', so split at the last two slashes before " = ".
  for (std::string_view line : lines(postconf_P)) {
    std::string_view key, value;
    if (!split_assignment(line, key, value)) continue;
    const std::size_t p2 = key.rfind('/');
    const std::size_t p1 = p2 == std::string_view::npos || p2 == 0 ? std::string_view::npos : key.rfind('/', p2 - 1);
    if (p1 == std::string_view::npos) continue;
    const std::string_view name = key.substr(0, p1), type = key.substr(p1 + 1, p2 - p1 - 1);
    for (Service& s : services) {
      if (s.name == name && s.type == type) s.overrides[std::string(key.substr(p2 + 1))] = std::string(value);
    }
  }
  return services;
}

std::vector<MilterEntry> parse_milter_list(std::string_view list) {
  std::vector<MilterEntry> out;
  std::size_t i = 0;
  auto separator = [](char c) { return c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r'; };
  while (i < list.size()) {
    if (separator(list[i])) {
      ++i;
      continue;
    }
    if (list[i] == '{') {
      const std::size_t close = list.find('}', i);
      const std::string_view inner = list.substr(i + 1, (close == std::string_view::npos ? list.size() : close) - i - 1);
      i = close == std::string_view::npos ? list.size() : close + 1;
      // "{ inet:host:port, default_action = accept, protocol = 6 }": items
      // are separated by commas; the first is the socket.
      MilterEntry e;
      std::size_t j = 0;
      bool first = true;
      while (j <= inner.size()) {
        std::size_t comma = inner.find(',', j);
        if (comma == std::string_view::npos) comma = inner.size();
        const std::string_view item = ascii::trim(inner.substr(j, comma - j));
        j = comma + 1;
        if (item.empty()) continue;
        std::string_view name, value;
        if (first) {
          e.socket = std::string(item);
          first = false;
        } else if (split_assignment(item, name, value)) {
          e.attrs[std::string(name)] = std::string(value);
        }
      }
      if (!e.socket.empty()) out.push_back(std::move(e));
      continue;
    }
    std::size_t j = i;
    while (j < list.size() && !separator(list[j])) ++j;
    out.push_back(MilterEntry{std::string(list.substr(i, j - i)), {}});
    i = j;
  }
  return out;
}

std::vector<std::string_view> split_postfix_list(std::string_view list) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < list.size()) {
    std::size_t j = list.find_first_of(" \t\r\n,", i);
    if (j == std::string_view::npos) j = list.size();
    if (j > i) out.push_back(list.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool has_no_milters(std::string_view options) {
  for (std::string_view item : split_postfix_list(options)) {
    if (item == "no_milters") return true;
  }
  return false;
}

Result<PostfixConfig> read_postfix(const std::string& config_dir) {
  std::vector<std::string> base = {"postconf"};
  if (!config_dir.empty()) base.insert(base.end(), {"-c", config_dir});
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  };
  auto n = with({"-n"});
  if (!n) return n.error();
  std::vector<std::string> names = {"-x"};
  names.insert(names.end(), kParameters.begin(), kParameters.end());
  auto x = with(names);
  if (!x) return x.error();
  auto m = with({"-M"});
  if (!m) return m.error();
  auto p = with({"-P", "-x"});
  if (!p) return p.error();
  auto services = parse_master(*m, *p);
  if (!services) return services.error();
  PostfixConfig cfg;
  cfg.config_directory = config_dir;
  cfg.params = parse_parameters(*x);
  for (const auto& [name, value] : parse_parameters(*n)) cfg.in_main_cf.insert(name);
  cfg.services = std::move(services.value());
  return cfg;
}

}  // namespace signet::doctor
