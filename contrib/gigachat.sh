#!/usr/bin/env bash
# Ask GigaChat through gigachatd with nothing but socat and jq; the reply streams to stdout.
#
#   contrib/gigachat.sh "Привет! Расскажи анекдот"
#   git diff | contrib/gigachat.sh -s "Review this patch briefly"
#   contrib/gigachat.sh -m GigaChat-2-Pro -c work "and then?"     # -c: a conversation kept by gigachatd
#
# Exit status, as gigachatctl's: 0 success; 1 the API or the daemon reported an error (on stderr);
# 3 gigachatd is not running; 4 the API rejected the credentials; 5 rate limited; 64 bad usage;
# 130 the request was cancelled.
set -euo pipefail

usage() { echo "usage: ${0##*/} [-m MODEL] [-s SYSTEM PROMPT] [-c CONVERSATION] [PROMPT...]" >&2; exit 64; }
model="" system="" conversation=""
while getopts "m:s:c:h" opt; do
  case $opt in
    m) model=$OPTARG ;;
    s) system=$OPTARG ;;
    c) conversation=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -gt 0 ]; then prompt="$*"; elif [ ! -t 0 ]; then prompt=$(cat); else usage; fi

# The same search order as gigachatd and gigachatctl (docs/PROTOCOL.md).
if [ -n "${GIGACHATD_SOCKET:-}" ]; then socket=$GIGACHATD_SOCKET
elif [ -n "${XDG_RUNTIME_DIR:-}" ]; then socket=$XDG_RUNTIME_DIR/gigachat/gigachatd.sock
else socket=/tmp/gigachat-$(id -u)/gigachatd.sock
fi
[ -S "$socket" ] || { echo "${0##*/}: gigachatd is not running (no socket at $socket)" >&2; exit 3; }

# jq builds the request, so quotes and newlines in the prompt are escaped properly.
request=$(jq -nc --arg prompt "$prompt" --arg model "$model" --arg system "$system" --arg conversation "$conversation" '
  {jsonrpc: "2.0", id: 1, method: "chat",
   params: ({messages: ((if $system != "" then [{role: "system", content: $system}] else [] end)
                        + [{role: "user", content: $prompt}]),
             stream: true}
            + (if $model != "" then {model: $model} else {} end)
            + (if $conversation != "" then {conversation: $conversation} else {} end))}')

# socat sends the request and half-closes; gigachatd finishes the request, then closes the connection.
# jq prints each delta as it comes (--unbuffered) and turns the final error, if any, into the exit
# status gigachatctl would give (docs/PROTOCOL.md lists the codes).
printf '%s\n' "$request" | socat -t 600 - "UNIX-CONNECT:$socket" | jq --unbuffered -j '
  def status: {"-32001": 4, "-32006": 4, "-32002": 5, "-32800": 130, "-32007": 3, "-32009": 3,
               "-32600": 64, "-32601": 64, "-32602": 64, "-32700": 64}[.code | tostring] // 1;
  if .method == "chat.delta" then .params.content
  elif .error then (.error | status) as $status
    | ("\n" * (if .error.data.partial then 1 else 0 end)) + "gigachat: " + .error.message + "\n" | halt_error($status)
  elif .result then "\n"
  else empty end'
