#include "signer/signature.h"

namespace signet {
namespace {

// Greedy folding: words go on the current line while it stays within 78
// columns, else on a new line started with a single SP (FWS, §3.2).
class Folder {
 public:
  explicit Folder(std::string start) : out_(std::move(start)), col_(out_.size()) {}

  // A whole tag or piece of one; `space` says whether a SP separates it from
  // the previous word when both share a line.
  void word(std::string_view w, bool space = true) {
    const std::size_t need = w.size() + (space ? 1 : 0);
    if (col_ + need > kFoldColumns && col_ > 1) {
      out_.append("\r\n ");
      col_ = 1;
    } else if (space) {
      out_.push_back(' ');
      ++col_;
    }
    out_.append(w);
    col_ += w.size();
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::size_t col_;
};

std::size_t last_line_columns(const std::string& s) {
  const std::size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s.size() : s.size() - nl - 1;
}

}  // namespace

std::string format_unsigned(const SignatureFields& f) {
  Folder fold(std::string(kSignatureHeaderName) + ":");
  fold.word("v=1;");
  fold.word("a=" + std::string(algorithm_name(f.algorithm)) + ";");
  fold.word("c=" + std::string(canon::to_string(f.header_canon)) + "/" +
            std::string(canon::to_string(f.body_canon)) + ";");
  fold.word("d=" + f.domain + ";");
  if (f.identity) fold.word("i=" + *f.identity + ";");
  fold.word("s=" + f.selector + ";");
  fold.word("t=" + std::to_string(f.timestamp) + ";");
  if (f.expiration) fold.word("x=" + std::to_string(*f.expiration) + ";");
  // h= may be long: it folds after any ':' (FWS is allowed there, §3.5).
  for (std::size_t i = 0; i < f.headers.size(); ++i) {
    std::string piece = (i == 0 ? "h=" : "") + f.headers[i] + (i + 1 < f.headers.size() ? ":" : ";");
    fold.word(piece, i == 0);
  }
  fold.word("bh=" + f.body_hash + ";");
  std::string out = fold.take();
  // b= starts its own line, so deleting its value leaves this text intact.
  out.append("\r\n b=");
  return out;
}

std::string append_b(std::string field, std::string_view b64) {
  std::size_t col = last_line_columns(field);
  std::size_t pos = 0;
  while (pos < b64.size()) {
    if (col >= kFoldColumns) {
      field.append("\r\n ");
      col = 1;
    }
    const std::size_t n = std::min(kFoldColumns - col, b64.size() - pos);
    field.append(b64.substr(pos, n));
    col += n;
    pos += n;
  }
  return field;
}

}  // namespace signet
