#include "core/completion/completion.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace weights::completion {
namespace {

struct Opt {
  std::vector<std::string> names;  // "--out", "-o"
  std::string description;
  bool takes_value = false;
};

struct Node {
  std::string path;  // "" for the root, "feed add" for nested commands
  std::vector<std::pair<std::string, std::string>> subcommands;  // name, description
  std::vector<Opt> options;
};

void collect(const CLI::App& app, const std::string& path, std::vector<Node>& out) {
  Node node;
  node.path = path;
  for (const CLI::App* sub : app.get_subcommands({})) {
    node.subcommands.emplace_back(sub->get_name(), sub->get_description());
  }
  for (const CLI::Option* o : app.get_options({})) {
    if (!o->nonpositional()) continue;
    Opt opt;
    for (const auto& l : o->get_lnames()) opt.names.push_back("--" + l);
    for (const auto& s : o->get_snames()) opt.names.push_back("-" + s);
    opt.description = o->get_description();
    // Flags (add_flag, --help, --version) expect no value: expected(0).
    opt.takes_value = o->get_expected_max() > 0 && o->get_type_size_max() > 0;
    node.options.push_back(std::move(opt));
  }
  out.push_back(std::move(node));
  for (const CLI::App* sub : app.get_subcommands({})) {
    collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
  }
}

// Single-quoted for sh/zsh/fish: ' becomes '\''.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string join_names(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

// Options that take a value anywhere in the tree (the next word is their value, not a command).
std::vector<std::string> value_options(const std::vector<Node>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) {
    for (const auto& o : n.options) {
      if (!o.takes_value) continue;
      for (const auto& name : o.names) {
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
      }
    }
  }
  return out;
}

// Global options (declared on the root) are accepted at every level (fallthrough).
std::vector<std::string> words_at(const Node& n, const Node& root, bool options) {
  std::vector<std::string> out;
  if (!options) {
    for (const auto& [name, desc] : n.subcommands) out.push_back(name);
    return out;
  }
  for (const auto& o : n.options) out.insert(out.end(), o.names.begin(), o.names.end());
  if (&n != &root) {
    for (const auto& o : root.options) {
      for (const auto& name : o.names) {
        if (name != "--help" && name != "-h" && name != "--version") out.push_back(name);
      }
    }
  }
  return out;
}

// The body of the loop over the words typed so far (bash and zsh alike): `w` is a word;
// a subcommand extends the command path `cmd`, an option that takes a value skips that value.
constexpr std::string_view kWalkWord =
    "    if [[ \" ${subs[/$cmd]} \" == *\" $w \"* ]]; then\n"
    "      cmd=${cmd:+$cmd }$w\n"
    "    elif [[ $valopts == *\" $w \"* ]]; then\n"
    "      ((i++))\n"
    "    fi\n"
    "  done\n";

std::string bash(const std::string& prog, const std::vector<Node>& nodes) {
  const std::string fn = "_" + prog;
  std::string s = fmt::format(
      "# bash completion for {0} (generated from the command tree of {0})\n"
      "{1}() {{\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} cmd='' i w\n"
      "  local -A subs=(\n",
      prog, fn);
  for (const auto& n : nodes) {
    s += fmt::format("    [{}]={}\n", quote("/" + n.path),
                     quote(join_names(words_at(n, nodes[0], false))));
  }
  s += "  )\n  local -A opts=(\n";
  for (const auto& n : nodes) {
    s += fmt::format("    [{}]={}\n", quote("/" + n.path),
                     quote(join_names(words_at(n, nodes[0], true))));
  }
  s +=
      fmt::format("  )\n  local valopts={}\n", quote(" " + join_names(value_options(nodes)) + " "));
  s += "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
       "    w=${COMP_WORDS[i]}\n" +
       std::string(kWalkWord) +
       "  if [[ $valopts == *\" $prev \"* ]]; then\n"
       "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
       "  elif [[ $cur == -* ]]; then\n"
       "    COMPREPLY=($(compgen -W \"${opts[/$cmd]}\" -- \"$cur\"))\n"
       "  elif [[ -n ${subs[/$cmd]} ]]; then\n"
       "    COMPREPLY=($(compgen -W \"${subs[/$cmd]}\" -- \"$cur\"))\n"
       "  else\n"
       "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
       "  fi\n"
       "}\n";
  s += fmt::format("complete -o filenames -F {} {}\n", fn, prog);
  return s;
}

// The command path variable is `cmd`, not `path`: zsh ties `path` to $PATH.
std::string zsh(const std::string& prog, const std::vector<Node>& nodes) {
  std::string s = fmt::format(
      "#compdef {0}\n# zsh completion for {0} (generated from the command tree of {0})\n"
      "_{0}() {{\n"
      "  local -A subs opts\n",
      prog);
  // Assigned as key/value lists (`subs['/']=...` left the quotes in the key under zsh 5.9).
  for (const bool options : {false, true}) {
    s += options ? "  opts=(\n" : "  subs=(\n";
    for (const auto& n : nodes) {
      s += fmt::format("    {} {}\n", quote("/" + n.path),
                       quote(join_names(words_at(n, nodes[0], options))));
    }
    s += "  )\n";
  }
  s += fmt::format("  local valopts={}\n", quote(" " + join_names(value_options(nodes)) + " "));
  s += "  local cmd='' i w\n"
       "  for ((i = 2; i < CURRENT; i++)); do\n"
       "    w=${words[i]}\n" +
       std::string(kWalkWord) +
       "  local prev=${words[CURRENT-1]} cur=${words[CURRENT]}\n"
       "  if [[ $valopts == *\" $prev \"* ]]; then\n"
       "    _files\n"
       "  elif [[ $cur == -* ]]; then\n"
       "    compadd -- ${=opts[/$cmd]}\n"
       "  elif [[ -n ${subs[/$cmd]} ]]; then\n"
       "    compadd -- ${=subs[/$cmd]}\n"
       "  else\n"
       "    _files\n"
       "  fi\n"
       "}\n";
  s += fmt::format("_{0} \"$@\"\n", prog);
  return s;
}

std::string fish(const std::string& prog, const std::vector<Node>& nodes) {
  std::string s = fmt::format(
      "# fish completion for {0} (generated from the command tree of {0})\n"
      "set -g __{0}_cmds",
      prog);
  for (const auto& n : nodes) {
    for (const auto& [name, desc] : n.subcommands) s += " " + quote(n.path + "|" + name);
  }
  s += fmt::format("\nset -g __{}_valopts", prog);
  for (const auto& v : value_options(nodes)) s += " " + quote(v);
  s += fmt::format(
      "\nfunction __{0}_path\n"
      "  set -l path ''\n"
      "  set -l skip 0\n"
      "  for t in (commandline -opc)[2..-1]\n"
      "    if test $skip = 1\n"
      "      set skip 0\n"
      "    else if contains -- \"$path|$t\" $__{0}_cmds\n"
      "      set path (string trim -- \"$path $t\")\n"
      "    else if contains -- $t $__{0}_valopts\n"
      "      set skip 1\n"
      "    end\n"
      "  end\n"
      "  echo $path\n"
      "end\n"
      "complete -c {0} -e\n",
      prog);
  for (const auto& n : nodes) {
    const std::string cond = fmt::format("test (__{}_path) = {}", prog, quote(n.path));
    for (const auto& [name, desc] : n.subcommands) {
      s += fmt::format("complete -c {} -f -n {} -a {} -d {}\n", prog, quote(cond), quote(name),
                       quote(desc));
    }
    for (const auto& o : n.options) {
      std::string flags;
      for (const auto& name : o.names) {
        flags += name.rfind("--", 0) == 0 ? " -l " + quote(name.substr(2))
                                          : " -s " + quote(name.substr(1));
      }
      s += fmt::format("complete -c {} -n {}{}{} -d {}\n", prog, quote(cond), flags,
                       o.takes_value ? " -r" : "", quote(o.description));
    }
  }
  return s;
}

}  // namespace

std::string script(const CLI::App& root, std::string_view program, Shell shell) {
  std::vector<Node> nodes;
  collect(root, "", nodes);
  const std::string prog(program);
  switch (shell) {
    case Shell::bash:
      return bash(prog, nodes);
    case Shell::zsh:
      return zsh(prog, nodes);
    case Shell::fish:
      return fish(prog, nodes);
  }
  return {};
}

}  // namespace weights::completion
