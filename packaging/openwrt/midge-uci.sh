#!/bin/sh
# Turns `uci show midge` into a midge.conf on stdout. Every option must be a midge key or a
# listener's port/address: anything else is an error (nothing silently ignored). POSIX sh
# (BusyBox ash on OpenWrt). Usage: midge-uci.sh > /var/etc/midge.conf
# Values may not contain single quotes or newlines (UCI quotes them as '\'' which we refuse).

KEYS=" memory_budget max_connections max_subscriptions max_packet_size max_topic_length \
max_client_id_length max_queued_bytes large_packet_buffers io_chunk_size max_keepalive \
connect_timeout max_inflight_messages max_sessions max_queued_messages queue_full_action \
max_retained_messages max_retained_bytes retain_available sys_interval max_topic_alias \
persistent_client_expiration socket_send_buffer socket_receive_buffer allow_anonymous \
password_file acl_file log_dest log_type connection_messages log_timestamp \
log_timestamp_format pid_file shutdown_flush_timeout "
FLAGS=" allow_anonymous retain_available connection_messages log_timestamp "

fail() { echo "midge-uci: $*" >&2; exit 1; }

all=$(uci -q show midge) || fail "no UCI package 'midge' (/etc/config/midge)"
# The value of UCI line NAME (without quotes), from the whole `uci show` text.
get() { printf '%s\n' "$all" | sed -n "s/^$(printf '%s' "$1" | sed 's/[][\.@]/\\&/g')='\{0,1\}\([^']*\)'\{0,1\}$/\1/p"; }

listeners=""
while IFS= read -r line; do
  name=${line%%=*}
  value=${line#*=}
  case "$value" in
    \'*\') value=${value#\'}; value=${value%\'} ;;
  esac
  case "$value" in *\'*) fail "$name: quotes are not supported in values" ;; esac
  case "$name" in
    midge.*.*) ;;
    *) continue ;;  # a section line: midge.main=midge, midge.@listener[0]=listener
  esac
  section=${name#midge.}; section=${section%.*}
  option=${name##*.}
  type=$(get "midge.$section")
  case "$type" in
    midge)
      [ "$option" = enabled ] && continue
      case "$KEYS" in *" $option "*) ;; *) fail "$name: '$option' is not a midge option" ;; esac
      case "$FLAGS" in
        *" $option "*)
          case "$value" in 1|true|yes|on) value=true ;; 0|false|no|off) value=false ;;
            *) fail "$name: '$value' is not a boolean" ;; esac ;;
      esac
      echo "$option $value"
      ;;
    listener)
      case "$option" in
        port|address|protocol|http_dir) ;;
        *) fail "$name: a listener takes 'port' and 'address' (and 'protocol', 'http_dir'), not '$option'" ;;
      esac
      case " $listeners " in *" $section "*) ;; *) listeners="$listeners $section" ;; esac
      ;;
    *) fail "$name: unknown section type '$type' (midge or listener)" ;;
  esac
done <<EOF
$all
EOF

for s in $listeners; do
  port=$(get "midge.$s.port")
  address=$(get "midge.$s.address")
  [ -n "$port" ] || fail "midge.$s: a listener needs a port"
  echo "listener $port${address:+ $address}"
  # protocol websockets + http_dir: the status page (README "Status page").
  protocol=$(get "midge.$s.protocol")
  http_dir=$(get "midge.$s.http_dir")
  if [ -n "$protocol" ]; then echo "protocol $protocol"; fi
  if [ -n "$http_dir" ]; then echo "http_dir $http_dir"; fi
done
