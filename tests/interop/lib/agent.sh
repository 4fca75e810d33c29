# agent.sh - answers the guest's `tgt` requests (see guest/lib.sh) through the shared folder:
# the guest writes rpc/ID.req (arguments, NUL-separated), the agent runs the matching
# tgt_host_* function and writes rpc/ID.resp (exit status on the first line, then the output).
# Files, not the network: the fault case takes the guest's NIC down and must still ask.
# Sourced by run.sh; agent_loop runs in the background until SHARE/rpc/stop exists.
agent_loop() {
    local rpc=$1/rpc req id args rc out
    while [ ! -e "$rpc/stop" ]; do
        for req in "$rpc"/*.req; do
            [ -f "$req" ] || continue
            id=$(basename "$req" .req)
            mapfile -d '' args < "$req"; rm -f "$req"
            case ${args[0]:-} in
                ctrl_count|conn_count|log_count|log_mark|log_tail|alive|ns_add|ns_resize|ns_remove|host_remove|listener_add|state|gw_start|gw_stop|gw_ana|fo_start|fo_owner|fo_state|fo_kill|fo_partition|fo_fenced_write|fo_restart|fo_stop)
                    out=$("tgt_host_${args[0]}" "${args[@]:1}" 2>&1); rc=$?;;
                *) out="unknown request '${args[0]:-}'"; rc=127;;
            esac
            printf '%s\n%s\n' "$rc" "$out" > "$rpc/$id.tmp" && mv "$rpc/$id.tmp" "$rpc/$id.resp"
        done
        sleep 0.1
    done
}
