import { describe, expect, it } from "vitest";
import {
  adminState,
  describeCheck,
  parseServersState,
  parseShowBackend,
  parseShowMap,
  parseShowProc,
  parseShowStat,
  serverIsUp,
} from "./runtime-state.js";

// Answers captured from HAProxy 2.6.12 (Debian 12).
const SERVERS_STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
4 app_a__web 1 r1-1 127.0.0.1 2 0 1 1 6 15 3 3 6 0 0 0 - 19101 - 0 0 - - 0
4 app_a__web 2 r2-1 127.0.0.1 0 1 1 1 0 1 0 0 2 0 0 0 - 19102 - 0 0 - - 0
4 app_a__web 3 r3-1 127.0.0.1 2 8 0 0 0 1 0 2 6 0 0 0 - 19103 - 0 0 - - 0

`;

const SHOW_STAT = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,
app_a__web,r1-1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,1,1,0,1,,1,2,1,,0,,2,0,,0,L7OK,200,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer7 check passed,,2,3,4,,,,127.0.0.1:19101,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
app_a__web,r2-1,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,1,1,,1,2,2,,0,,2,0,,0,L4CON,,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,3,0,,,,127.0.0.1:19109,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
`;

describe("parseServersState", () => {
  it("reads each server's state by column name", () => {
    expect(parseServersState(SERVERS_STATE)).toEqual([
      {
        backend: "app_a__web",
        name: "r1-1",
        addr: "127.0.0.1",
        port: 19101,
        opState: 2,
        adminMask: 0,
        weight: 1,
        checkResult: 3,
      },
      {
        backend: "app_a__web",
        name: "r2-1",
        addr: "127.0.0.1",
        port: 19102,
        opState: 0,
        adminMask: 1,
        weight: 1,
        checkResult: 0,
      },
      {
        backend: "app_a__web",
        name: "r3-1",
        addr: "127.0.0.1",
        port: 19103,
        opState: 2,
        adminMask: 8,
        weight: 0,
        checkResult: 0,
      },
    ]);
  });

  it.each([
    ["an error", "\n[3]: Can't find backend.\n"],
    ["no servers", "1\n# be_id be_name srv_id srv_name\n"],
  ])("finds nothing in %s", (_, text) => {
    expect(parseServersState(text)).toEqual([]);
  });
});

describe("adminState", () => {
  it.each([
    [0x00, "ready"],
    [0x01, "maint"], // forced (set server state maint)
    [0x04, "maint"], // "disabled" in the configuration
    [0x20, "maint"], // address resolution failed
    [0x08, "drain"], // forced (set server state drain)
    [0x10, "drain"], // inherited from a tracked server
    [0x09, "maint"], // maintenance wins over drain
    [0x40, "ready"], // only "FQDN set from the CLI"
  ] as const)("mask %i → %s", (mask, state) => {
    expect(adminState(mask)).toBe(state);
  });
});

describe("serverIsUp", () => {
  it.each([
    { opState: 2, checkResult: 3, up: true },
    { opState: 1, checkResult: 4, up: true }, // starting, conditionally passed
    { opState: 2, checkResult: 0, up: false }, // enabled, but no check has run yet
    { opState: 0, checkResult: 2, up: false },
    { opState: 3, checkResult: 3, up: false }, // stopping
  ])("op $opState, check $checkResult → $up", ({ opState, checkResult, up }) => {
    expect(serverIsUp({ opState, checkResult })).toBe(up);
  });
});

describe("parseShowStat and describeCheck", () => {
  const rows = parseShowStat(SHOW_STAT);

  it("keys each row by column name", () => {
    expect(rows.map((r) => [r.pxname, r.svname, r.scur, r.status])).toEqual([
      ["app_a__web", "r1-1", "0", "UP"],
      ["app_a__web", "r2-1", "0", "DOWN"],
    ]);
  });

  it.each([
    [0, "L7OK 200 (Layer7 check passed)"],
    [1, "L4CON (Layer4 connection problem: Connection refused)"],
  ])("row %i's last check is %s", (i, text) => {
    expect(describeCheck(rows[i] ?? {})).toBe(text);
  });

  it("says when no check has run", () => {
    expect(describeCheck({ check_status: "", check_code: "" })).toBe("no check has run yet");
  });
});

describe("parseShowBackend", () => {
  it("lists backends without the header", () => {
    expect(parseShowBackend("# name\nskiff_not_found\napp_a__web\n\n")).toEqual([
      "skiff_not_found",
      "app_a__web",
    ]);
  });
});

describe("parseShowMap", () => {
  it("reads key and value after each entry's id", () => {
    expect([
      ...parseShowMap(
        "0x555ea15d6cf0 a.localhost app_a__web\n0x7f68b804bd60 b.localhost app_b__web\n\n",
      ),
    ]).toEqual([
      ["a.localhost", "app_a__web"],
      ["b.localhost", "app_b__web"],
    ]);
  });
});

describe("parseShowProc", () => {
  it.each([
    {
      case: "one worker",
      text: `#<PID>          <type>          <reloads>       <uptime>        <version>      
19290           master          0 [failed: 0]   0d00h03m13s     2.6.12-1+deb12u4
# workers
19294           worker          0               0d00h03m13s     2.6.12-1+deb12u4
# programs

`,
      expected: {
        masterPid: 19290,
        reloads: 0,
        failedReloads: 0,
        workers: [19294],
        oldWorkers: [],
      },
    },
    {
      case: "after reloads, an old worker still finishing",
      text: `#<PID>          <type>          <reloads>       <uptime>        <version>      
1162            master          5 [failed: 1]   0d00h02m07s     2.6.12-1+deb12u4
# workers
1271            worker          1               0d00h00m00s     2.6.12-1+deb12u4
# old workers
1233            worker          3               0d00h00m43s     2.6.12-1+deb12u4
# programs
`,
      expected: {
        masterPid: 1162,
        reloads: 5,
        failedReloads: 1,
        workers: [1271],
        oldWorkers: [1233],
      },
    },
  ])("$case", ({ text, expected }) => {
    expect(parseShowProc(text)).toEqual(expected);
  });
});
