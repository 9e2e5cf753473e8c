// bnnforge: compiled Verilator harness for a whole board system (no Python per cycle).
//
// Built by bnnforge.sim.system_sim for any top with the ports ap_clk, ap_rst_n (active low),
// s_axi_control_* (AXI4-Lite slave, 32-bit data) and m_axi_mem_* (AXI4 master); Verilator
// compiles the design as class Vdut (--prefix Vdut) together with this file and
// system_ports.h, generated from the model's ports (BUS_BITS, ADDR_BITS, CTRL_BITS and
// accessors for the optional ID / AxCACHE / AxPROT / AxLOCK / AxQOS ports).
//
// The harness holds
// - a simulated DDR: a sparse byte memory (64-bit addresses, 4 KiB pages allocated on first
//   write, unwritten bytes read 0) serving the AXI4 master: up to --max-reads read bursts and
//   --max-writes write bursts in flight, answered in order; a fixed latency (--mem-latency L:
//   an AR taken at edge c gives its first R beat at edge c+L at the earliest; a write burst
//   whose last W beat (and AW) was taken at edge c gets its B at edge c+L at the earliest);
//   seeded random stalls (--stall-read P on ARREADY and RVALID, --stall-write P on AWREADY,
//   WREADY and BVALID); W beats may come before their AW (buffered, matched in AW order);
// - protocol checks on every master-driven channel (AR, AW, W; and on the design's
//   AXI4-Lite responses B, R): VALID dropped or payload changed before READY, burst across
//   4 KiB, reserved burst type, size wider than the bus, WRAP/FIXED length rules, WLAST
//   missing or early, a response without a request. A violation ends the run ("err
//   protocol ..." then exit 4). WSTRB set outside a beat's bytes is allowed: those bytes are
//   not written and the first case is recorded (stats);
// - an AXI4-Lite master (--lite-stall P: random gaps before AWVALID/WVALID/ARVALID and on
//   BREADY/RREADY).
//
// Line protocol: one command per line on stdin, one answer line on stdout ("ok ..." or
// "err KIND message"); numbers are decimal or 0x-hexadecimal, answers decimal. What the
// design prints ($display, Verilator's messages) goes to stderr, never between the answers.
//   w32 OFF VAL [STRB]       AXI4-Lite write, returns when B arrives     -> ok BRESP
//   r32 OFF                  AXI4-Lite read                              -> ok VALUE RRESP
//   poll OFF MASK K [GAP]    read OFF until (VALUE & MASK) != 0 or K cycles used, GAP idle
//                            cycles between reads                        -> ok VALUE CYCLES
//   run N                    N clock cycles                              -> ok
//   memw ADDR HEX            bytes into DDR                              -> ok
//   memwf ADDR PATH          a file's bytes into DDR                     -> ok BYTES
//   memr ADDR N              N bytes of DDR                              -> ok HEX
//   memrf ADDR N PATH        N bytes of DDR into a file                  -> ok
//   cycle                    cycles since the initial reset              -> ok CYCLE
//   stats                    traffic counters                            -> ok {JSON}
//   reset N                  ap_rst_n low for N cycles (bursts in flight are dropped, the
//                            memory keeps its bytes)                     -> ok
//   quit                                                                 -> ok (exit 0)
// Errors: "err usage" (bad command), "err timeout" (an AXI4-Lite transaction did not
// complete within --lite-timeout cycles; the control port stays unusable), "err protocol"
// and "err finish" (the design called $finish) end the process (exit 4). Cycle k is the
// k-th rising clock edge after the initial reset (RESET_CYCLES cycles, not counted).
//
// Run:  system_harness [--mem-latency L] [--stall-read P] [--stall-write P] [--lite-stall P]
//                      [--seed S] [--max-reads N] [--max-writes N] [--lite-timeout N]
//                      [--waves FILE.fst] [+plusargs for the design]

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <unistd.h>
#include <iostream>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "Vdut.h"
#include "verilated.h"
#if VM_TRACE_FST
#include "verilated_fst_c.h"
#endif

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the harness packs bus words as little-endian bytes");

// ---- port values as little-endian 32-bit words, whatever Verilator's storage type --------

constexpr int words_of(int bits) { return (bits + 31) / 32; }
template <typename T> inline void get_words(const T& v, uint32_t* w, int nw) {
    uint64_t x = static_cast<uint64_t>(v);
    w[0] = static_cast<uint32_t>(x);
    if (nw > 1) w[1] = static_cast<uint32_t>(x >> 32);
}
template <std::size_t N> inline void get_words(const VlWide<N>& v, uint32_t* w, int nw) {
    for (int i = 0; i < nw; ++i) w[i] = v[i];
}
template <typename T> inline void put_words(T& v, const uint32_t* w, int nw) {
    uint64_t x = w[0];
    if (nw > 1) x |= static_cast<uint64_t>(w[1]) << 32;
    v = static_cast<T>(x);
}
template <std::size_t N> inline void put_words(VlWide<N>& v, const uint32_t* w, int nw) {
    for (int i = 0; i < nw; ++i) v[i] = w[i];
}

#include "system_ports.h"  // BUS_BITS, ADDR_BITS, CTRL_BITS, optional-port accessors

constexpr int BUS_BYTES = BUS_BITS / 8;
constexpr int BUS_WORDS = words_of(BUS_BITS);
constexpr int STRB_WORDS = words_of(BUS_BYTES);
constexpr int BUS_LOG = __builtin_ctz(BUS_BYTES);
static_assert((BUS_BYTES & (BUS_BYTES - 1)) == 0 && BUS_BYTES >= 1, "bus width: a power of two bytes");
static const int RESET_CYCLES = 4;
static const int EXIT_OK = 0, EXIT_USAGE = 1, EXIT_FATAL = 4;
static const size_t W_AHEAD_MAX = 4096;  // W beats accepted before their AW

// ---- seeded random stalls (splitmix64) --------------------------------------------------------

struct Rng {
    uint64_t s;
    uint32_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
    }
};
struct Stall {  // true with probability p per call (p = 0 never draws)
    uint64_t threshold = 0;
    void set(double p) { threshold = static_cast<uint64_t>(p * 4294967296.0); }
    bool operator()(Rng& r) const { return threshold != 0 && r.next() < threshold; }
};

// ---- sparse memory ----------------------------------------------------------------------------

class Memory {
  public:
    static const uint64_t PAGE = 4096;
    const uint8_t* find(uint64_t addr) const {
        auto it = pages_.find(addr / PAGE);
        return it == pages_.end() ? nullptr : it->second.get();
    }
    uint8_t* get(uint64_t addr) {
        const uint64_t key = addr / PAGE;
        if (key == last_key_ && last_) return last_;
        auto& p = pages_[key];
        if (!p) p.reset(new uint8_t[PAGE]());
        last_key_ = key;
        last_ = p.get();
        return last_;
    }
    void read(uint64_t addr, uint8_t* out, size_t n) const {
        while (n) {
            const size_t off = addr % PAGE, k = std::min<size_t>(n, PAGE - off);
            const uint8_t* p = find(addr);
            if (p) std::memcpy(out, p + off, k);
            else std::memset(out, 0, k);
            out += k, addr += k, n -= k;
        }
    }
    void write(uint64_t addr, const uint8_t* in, size_t n) {
        while (n) {
            const size_t off = addr % PAGE, k = std::min<size_t>(n, PAGE - off);
            std::memcpy(get(addr) + off, in, k);
            in += k, addr += k, n -= k;
        }
    }
    size_t pages() const { return pages_.size(); }

  private:
    std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> pages_;
    uint64_t last_key_ = ~0ULL;
    uint8_t* last_ = nullptr;
};

// ---- AXI4 bursts ------------------------------------------------------------------------------

struct Ax {  // an AR or AW request (the payload the monitor compares)
    uint64_t addr = 0, id = 0, extra = 0;
    uint32_t len = 0, size = 0, burst = 0;
    bool operator!=(const Ax& o) const {
        return addr != o.addr || id != o.id || extra != o.extra || len != o.len || size != o.size || burst != o.burst;
    }
};

struct Burst {
    Ax ax;
    uint32_t beat = 0;  // beats done
    uint64_t due = 0;  // earliest cycle of the first R beat / of the B response
    uint32_t beats() const { return ax.len + 1; }
    // address of beat n (AXI4 spec, A3.4.2)
    uint64_t beat_addr(uint32_t n) const {
        const uint64_t nb = 1ULL << ax.size, aligned = ax.addr & ~(nb - 1);
        if (ax.burst == 0) return ax.addr;  // FIXED
        if (n == 0) return ax.addr;
        uint64_t a = aligned + n * nb;
        if (ax.burst == 2) {  // WRAP
            const uint64_t span = nb * beats(), lo = ax.addr / span * span;
            if (a >= lo + span) a -= span;
        }
        return a;
    }
    // byte lanes [lo, hi] of beat n
    void lanes(uint32_t n, int& lo, int& hi) const {
        const uint64_t a = beat_addr(n), nb = 1ULL << ax.size;
        lo = static_cast<int>(a % BUS_BYTES);
        hi = static_cast<int>((a & ~(nb - 1)) % BUS_BYTES + nb - 1);
    }
};

static std::string hex64(uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}

static std::string describe(const char* ch, const Ax& a) {
    static const char* const kinds[] = {"FIXED", "INCR", "WRAP", "reserved"};
    return std::string(ch) + " at " + hex64(a.addr) + ": " + std::to_string(a.len + 1) + " beats of " +
           std::to_string(1u << a.size) + " bytes, " + kinds[a.burst & 3];
}

// The rules a request must follow; "" when it does.
static std::string burst_rules(const char* ch, const Ax& a) {
    const uint64_t nb = 1ULL << a.size;
    if (a.burst == 3) return describe(ch, a) + ": burst type 3 is reserved";
    if (a.size > static_cast<uint32_t>(BUS_LOG))
        return describe(ch, a) + ": wider than the " + std::to_string(BUS_BITS) + "-bit bus";
    if (a.burst == 1) {
        const uint64_t last = (a.addr & ~(nb - 1)) + (a.len + 1) * nb - 1;
        if ((a.addr >> 12) != (last >> 12)) return describe(ch, a) + ": burst crosses a 4 KiB boundary";
    } else if (a.burst == 2) {
        const uint32_t n = a.len + 1;
        if (a.addr % nb || !(n == 2 || n == 4 || n == 8 || n == 16))
            return describe(ch, a) + ": WRAP needs an aligned address and 2, 4, 8 or 16 beats";
    } else if (a.len + 1 > 16) {
        return describe(ch, a) + ": FIXED bursts have at most 16 beats";
    }
    return "";
}

struct WBeat {
    uint32_t data[BUS_WORDS];
    uint32_t strb[STRB_WORDS];
    bool last;
    bool operator!=(const WBeat& o) const {
        return std::memcmp(data, o.data, sizeof data) || std::memcmp(strb, o.strb, sizeof strb) || last != o.last;
    }
};

// ---- the simulation ---------------------------------------------------------------------------

struct Options {
    uint64_t latency = 20, seed = 1, max_reads = 16, max_writes = 16, lite_timeout = 100000;
    double stall_read = 0, stall_write = 0, stall_lite = 0;
    const char* waves = nullptr;
};

struct Stats {
    uint64_t ar = 0, r = 0, aw = 0, w = 0, b = 0, reads_max = 0, writes_max = 0;
    int64_t last_ar = -1, last_r = -1, last_aw = -1, last_w = -1, last_b = -1;
    uint64_t strb_outside = 0;
    std::string strb_outside_first;
};

struct LiteOp {
    int kind = 0;  // 0 none, 1 write, 2 read
    uint32_t addr = 0, data = 0, strb = 0xF;
    bool aw_done = false, w_done = false, ar_done = false, aw_shown = false, w_shown = false, ar_shown = false;
    bool complete = false;
    uint32_t rdata = 0, resp = 0;
};

class Sim {
  public:
    Sim(VerilatedContext* ctx, Vdut* d, const Options& o) : ctx_(ctx), d_(d), o_(o) {
        rng_.s = o.seed * 0x2545F4914F6CDD1DULL + 1;
        stall_r_.set(o.stall_read);
        stall_w_.set(o.stall_write);
        stall_l_.set(o.stall_lite);
        half_ = 5;  // a 10 ns clock in the waveform, in units of the time precision
        for (int p = ctx->timeprecision(); p < -9; ++p) half_ *= 10;
    }
#if VM_TRACE_FST
    void trace(VerilatedFstC* f) { fst_ = f; }
#endif
    Memory mem;
    Stats stats;
    uint64_t cycle = 0;
    std::string fatal;  // a protocol violation or $finish: the run ends
    bool lite_stuck = false;

    void reset(int cycles) {
        drive_idle();
        d_->ap_rst_n = 0;
        for (int i = 0; i < cycles; ++i) {
            half_cycle(0);
            half_cycle(1);
        }
        d_->ap_rst_n = 1;
        reads_.clear();
        writes_.clear();
        wbeats_.clear();
        w_match_ = 0;
        r_hold_ = b_hold_ = false;
        ar_held_ = aw_held_ = w_held_ = lb_held_ = lr_held_ = false;
        lite_ = LiteOp();
        lite_stuck = false;
    }
    void reset_cycles(uint64_t n) {  // a reset the user asked for: counted
        reset(static_cast<int>(n));
        cycle += n;
    }
    bool step();  // one clock cycle; false once the run must end
    // run an AXI4-Lite transaction to its end (false: timeout or fatal); its result in `done`
    bool lite(const LiteOp& op, uint64_t& used, LiteOp& done);
    std::string stats_json() const;

  private:
    VerilatedContext* ctx_;
    Vdut* d_;
    Options o_;
    Rng rng_;
    Stall stall_r_, stall_w_, stall_l_;
    uint64_t half_ = 5;
#if VM_TRACE_FST
    VerilatedFstC* fst_ = nullptr;
#endif
    std::deque<Burst> reads_, writes_;  // in flight: every AR until its last R beat, every AW until its B
    std::deque<WBeat> wbeats_;  // W beats not yet matched to an AW
    size_t w_match_ = 0;  // writes_[w_match_] is the burst the next W beat belongs to
    bool r_hold_ = false, b_hold_ = false;
    // monitor: VALID without READY in the last cycle, with its payload
    bool ar_held_ = false, aw_held_ = false, w_held_ = false, lb_held_ = false, lr_held_ = false;
    Ax ar_last_, aw_last_;
    WBeat w_last_;
    uint32_t lb_last_ = 0;
    uint64_t lr_last_ = 0;
    LiteOp lite_;
    // this cycle's drive
    bool arready_ = false, awready_ = false, wready_ = false;

    void half_cycle(int clk) {
        d_->ap_clk = clk;
        d_->eval();
#if VM_TRACE_FST
        if (fst_) fst_->dump(ctx_->time());
#endif
        ctx_->timeInc(half_);
    }
    void drive_idle();
    void drive();
    void sample();
    void match_writes();
    void violation(const std::string& m) {
        if (fatal.empty()) fatal = "cycle " + std::to_string(cycle) + ": " + m;
    }
};

void Sim::drive_idle() {
    d_->m_axi_mem_arready = 0;
    d_->m_axi_mem_rvalid = 0;
    d_->m_axi_mem_awready = 0;
    d_->m_axi_mem_wready = 0;
    d_->m_axi_mem_bvalid = 0;
    d_->s_axi_control_awvalid = 0;
    d_->s_axi_control_wvalid = 0;
    d_->s_axi_control_bready = 0;
    d_->s_axi_control_arvalid = 0;
    d_->s_axi_control_rready = 0;
}

// Inputs for this cycle, from the models' state (never from this cycle's outputs).
void Sim::drive() {
    // read side
    arready_ = reads_.size() < o_.max_reads && !stall_r_(rng_);
    d_->m_axi_mem_arready = arready_;
    if (!r_hold_ && !reads_.empty() && reads_.front().due <= cycle && !stall_r_(rng_)) {
        const Burst& b = reads_.front();
        uint8_t bytes[4 * BUS_WORDS] = {0};
        mem.read(b.beat_addr(b.beat) & ~static_cast<uint64_t>(BUS_BYTES - 1), bytes, BUS_BYTES);
        uint32_t w[BUS_WORDS];
        std::memcpy(w, bytes, sizeof w);
        put_words(d_->m_axi_mem_rdata, w, BUS_WORDS);
        d_->m_axi_mem_rlast = b.beat + 1 == b.beats();
        d_->m_axi_mem_rresp = 0;
        set_rid(d_, b.ax.id);
        r_hold_ = true;
    }
    d_->m_axi_mem_rvalid = r_hold_;
    // write side
    awready_ = writes_.size() < o_.max_writes && !stall_w_(rng_);
    d_->m_axi_mem_awready = awready_;
    wready_ = wbeats_.size() < W_AHEAD_MAX && !stall_w_(rng_);
    d_->m_axi_mem_wready = wready_;
    if (!b_hold_ && !writes_.empty() && writes_.front().beat == writes_.front().beats() &&
        writes_.front().due <= cycle && !stall_w_(rng_)) {
        d_->m_axi_mem_bresp = 0;
        set_bid(d_, writes_.front().ax.id);
        b_hold_ = true;
    }
    d_->m_axi_mem_bvalid = b_hold_;
    // AXI4-Lite master
    LiteOp& l = lite_;
    const bool wr = l.kind == 1, rd = l.kind == 2;
    if (wr && !l.aw_done && !l.aw_shown) l.aw_shown = !stall_l_(rng_);
    if (wr && !l.w_done && !l.w_shown) l.w_shown = !stall_l_(rng_);
    if (rd && !l.ar_done && !l.ar_shown) l.ar_shown = !stall_l_(rng_);
    d_->s_axi_control_awaddr = l.addr;
    d_->s_axi_control_araddr = l.addr;
    d_->s_axi_control_wdata = l.data;
    d_->s_axi_control_wstrb = l.strb;
    d_->s_axi_control_awvalid = wr && !l.aw_done && l.aw_shown;
    d_->s_axi_control_wvalid = wr && !l.w_done && l.w_shown;
    d_->s_axi_control_bready = wr && !stall_l_(rng_);
    d_->s_axi_control_arvalid = rd && !l.ar_done && l.ar_shown;
    d_->s_axi_control_rready = rd && !stall_l_(rng_);
}

// What the coming rising edge takes, checked against the rules (outputs after the low-phase eval).
void Sim::sample() {
    // --- AR
    const bool arvalid = d_->m_axi_mem_arvalid;
    Ax ar;
    if (arvalid || ar_held_) {
        ar.addr = static_cast<uint64_t>(d_->m_axi_mem_araddr);
        ar.len = d_->m_axi_mem_arlen;
        ar.size = d_->m_axi_mem_arsize;
        ar.burst = d_->m_axi_mem_arburst;
        ar.id = get_arid(d_);
        ar.extra = ar_extra(d_);
    }
    if (ar_held_ && !arvalid) violation("ARVALID dropped before ARREADY (" + describe("AR", ar_last_) + ")");
    else if (ar_held_ && ar != ar_last_)
        violation("AR payload changed while ARVALID waited for ARREADY: " + describe("AR", ar_last_) + " -> " +
                  describe("AR", ar));
    if (arvalid && arready_) {
        std::string e = burst_rules("AR", ar);
        if (!e.empty()) violation(e);
        Burst b;
        b.ax = ar;
        b.due = cycle + o_.latency;
        reads_.push_back(b);
        ++stats.ar;
        stats.last_ar = static_cast<int64_t>(cycle);
        if (reads_.size() > stats.reads_max) stats.reads_max = reads_.size();
    }
    ar_held_ = arvalid && !arready_;
    ar_last_ = ar;
    // --- R
    if (r_hold_ && d_->m_axi_mem_rready) {
        Burst& b = reads_.front();
        r_hold_ = false;
        ++stats.r;
        stats.last_r = static_cast<int64_t>(cycle);
        if (++b.beat == b.beats()) reads_.pop_front();
    }
    // --- AW
    const bool awvalid = d_->m_axi_mem_awvalid;
    Ax aw;
    if (awvalid || aw_held_) {
        aw.addr = static_cast<uint64_t>(d_->m_axi_mem_awaddr);
        aw.len = d_->m_axi_mem_awlen;
        aw.size = d_->m_axi_mem_awsize;
        aw.burst = d_->m_axi_mem_awburst;
        aw.id = get_awid(d_);
        aw.extra = aw_extra(d_);
    }
    if (aw_held_ && !awvalid) violation("AWVALID dropped before AWREADY (" + describe("AW", aw_last_) + ")");
    else if (aw_held_ && aw != aw_last_)
        violation("AW payload changed while AWVALID waited for AWREADY: " + describe("AW", aw_last_) + " -> " +
                  describe("AW", aw));
    if (awvalid && awready_) {
        std::string e = burst_rules("AW", aw);
        if (!e.empty()) violation(e);
        Burst b;
        b.ax = aw;
        writes_.push_back(b);
        ++stats.aw;
        stats.last_aw = static_cast<int64_t>(cycle);
        if (writes_.size() > stats.writes_max) stats.writes_max = writes_.size();
    }
    aw_held_ = awvalid && !awready_;
    aw_last_ = aw;
    // --- W
    const bool wvalid = d_->m_axi_mem_wvalid;
    WBeat w{};
    if (wvalid || w_held_) {
        get_words(d_->m_axi_mem_wdata, w.data, BUS_WORDS);
        std::memset(w.strb, 0, sizeof w.strb);
        get_words(d_->m_axi_mem_wstrb, w.strb, STRB_WORDS);
        w.last = d_->m_axi_mem_wlast;
    }
    if (w_held_ && !wvalid) violation("WVALID dropped before WREADY");
    else if (w_held_ && w != w_last_)
        violation("W payload (WDATA, WSTRB or WLAST) changed while WVALID waited for WREADY");
    if (wvalid && wready_) {
        wbeats_.push_back(w);
        ++stats.w;
        stats.last_w = static_cast<int64_t>(cycle);
    }
    w_held_ = wvalid && !wready_;
    w_last_ = w;
    match_writes();
    // --- B
    if (b_hold_ && d_->m_axi_mem_bready) {
        b_hold_ = false;
        writes_.pop_front();
        --w_match_;
        ++stats.b;
        stats.last_b = static_cast<int64_t>(cycle);
    }
    // --- AXI4-Lite: our requests, the design's responses
    LiteOp& l = lite_;
    const bool aw_before = l.aw_done, w_before = l.w_done, ar_before = l.ar_done;
    if (d_->s_axi_control_awvalid && d_->s_axi_control_awready) l.aw_done = true;
    if (d_->s_axi_control_wvalid && d_->s_axi_control_wready) l.w_done = true;
    if (d_->s_axi_control_arvalid && d_->s_axi_control_arready) l.ar_done = true;
    const bool bvalid = d_->s_axi_control_bvalid, rvalid = d_->s_axi_control_rvalid;
    const uint32_t bresp = d_->s_axi_control_bresp;
    const uint64_t rpay = (static_cast<uint64_t>(d_->s_axi_control_rresp) << 32) | d_->s_axi_control_rdata;
    if (lb_held_ && !bvalid) violation("s_axi_control BVALID dropped before BREADY");
    else if (lb_held_ && bresp != lb_last_) violation("s_axi_control BRESP changed while BVALID waited for BREADY");
    if (lr_held_ && !rvalid) violation("s_axi_control RVALID dropped before RREADY");
    else if (lr_held_ && rpay != lr_last_)
        violation("s_axi_control RDATA/RRESP changed while RVALID waited for RREADY");
    if (bvalid && !lb_held_ && !(l.kind == 1 && aw_before && w_before))
        violation("s_axi_control BVALID without a write whose AW and W were both taken");
    if (rvalid && !lr_held_ && !(l.kind == 2 && ar_before))
        violation("s_axi_control RVALID without a read whose AR was taken");
    const bool bready = d_->s_axi_control_bready, rready = d_->s_axi_control_rready;
    if (bvalid && bready && l.kind == 1) {
        l.complete = true;
        l.resp = bresp;
    }
    if (rvalid && rready && l.kind == 2) {
        l.complete = true;
        l.rdata = static_cast<uint32_t>(rpay);
        l.resp = static_cast<uint32_t>(rpay >> 32);
    }
    lb_held_ = bvalid && !bready;
    lb_last_ = bresp;
    lr_held_ = rvalid && !rready;
    lr_last_ = rpay;
}

// W beats to their bursts, in AW order: memory written, WLAST checked, B scheduled.
void Sim::match_writes() {
    while (!wbeats_.empty() && w_match_ < writes_.size()) {
        Burst& b = writes_[w_match_];
        const WBeat& w = wbeats_.front();
        const bool last = b.beat + 1 == b.beats();
        if (w.last && !last)
            violation("WLAST on beat " + std::to_string(b.beat + 1) + " of the " + std::to_string(b.beats()) +
                      "-beat burst (" + describe("AW", b.ax) + ")");
        if (!w.last && last)
            violation("WLAST missing on the last beat of the burst (" + describe("AW", b.ax) + ")");
        int lo, hi;
        b.lanes(b.beat, lo, hi);
        const uint64_t base = b.beat_addr(b.beat) & ~static_cast<uint64_t>(BUS_BYTES - 1);
        const uint8_t* bytes = reinterpret_cast<const uint8_t*>(w.data);
        bool full = lo == 0 && hi == BUS_BYTES - 1;
        for (int i = 0; full && i < BUS_BYTES; ++i) full = (w.strb[i / 32] >> (i % 32)) & 1u;
        if (full) {
            mem.write(base, bytes, BUS_BYTES);
        } else {
            for (int i = 0; i < BUS_BYTES; ++i) {
                if (!((w.strb[i / 32] >> (i % 32)) & 1u)) continue;
                if (i < lo || i > hi) {
                    if (stats.strb_outside++ == 0)
                        stats.strb_outside_first = "cycle " + std::to_string(cycle) + ": WSTRB lane " +
                                                   std::to_string(i) + " outside bytes " + std::to_string(lo) + ".." +
                                                   std::to_string(hi) + " of beat " + std::to_string(b.beat + 1) +
                                                   " (" + describe("AW", b.ax) + ")";
                    continue;
                }
                mem.write(base + i, bytes + i, 1);
            }
        }
        wbeats_.pop_front();
        if (++b.beat == b.beats()) {
            b.due = cycle + o_.latency;
            ++w_match_;
        }
    }
}

bool Sim::step() {
    drive();
    half_cycle(0);
    sample();
    half_cycle(1);
    ++cycle;
    if (ctx_->gotFinish() && fatal.empty()) fatal = "the design called $finish at cycle " + std::to_string(cycle);
    return fatal.empty();
}

bool Sim::lite(const LiteOp& op, uint64_t& used, LiteOp& done) {
    lite_ = op;
    used = 0;
    while (!lite_.complete) {
        if (!step()) return false;
        ++used;
        if (!lite_.complete && used >= o_.lite_timeout) {
            lite_stuck = true;  // its VALIDs stay up: the port cannot take another transaction
            return false;
        }
    }
    done = lite_;
    lite_ = LiteOp();
    return true;
}

std::string Sim::stats_json() const {
    char b[1024];
    std::snprintf(b, sizeof b,
                  "{\"cycle\": %" PRIu64 ", \"ar\": %" PRIu64 ", \"r_beats\": %" PRIu64 ", \"aw\": %" PRIu64
                  ", \"w_beats\": %" PRIu64 ", \"b\": %" PRIu64 ", \"reads_in_flight\": %zu, \"writes_in_flight\": %zu"
                  ", \"w_beats_waiting\": %zu, \"reads_in_flight_max\": %" PRIu64 ", \"writes_in_flight_max\": %" PRIu64
                  ", \"last_ar\": %" PRId64 ", \"last_r\": %" PRId64 ", \"last_aw\": %" PRId64 ", \"last_w\": %" PRId64
                  ", \"last_b\": %" PRId64 ", \"pages\": %zu, \"wstrb_outside\": %" PRIu64
                  ", \"wstrb_outside_first\": \"",
                  cycle, stats.ar, stats.r, stats.aw, stats.w, stats.b, reads_.size(), writes_.size(), wbeats_.size(),
                  stats.reads_max, stats.writes_max, stats.last_ar, stats.last_r, stats.last_aw, stats.last_w,
                  stats.last_b, mem.pages(), stats.strb_outside);
    return std::string(b) + stats.strb_outside_first + "\"}";
}

// ---- the command loop ---------------------------------------------------------------------------

static bool parse_u64(const std::string& s, uint64_t& v) {
    if (s.empty() || s[0] == '-' || s[0] == '+') return false;
    char* end = nullptr;
    errno = 0;
    v = std::strtoull(s.c_str(), &end, 0);
    return errno == 0 && end && *end == '\0';
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void split(const std::string& line, std::vector<std::string>& out) {
    out.clear();
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
        if (j > i) out.emplace_back(line, i, j - i);
        i = j;
    }
}

struct Reply {
    std::string text;
    bool fatal = false;
};
static Reply ok(const std::string& s = "") { return {s.empty() ? "ok" : "ok " + s, false}; }
static Reply err(const char* kind, const std::string& m, bool fatal = false) {
    return {std::string("err ") + kind + " " + m, fatal};
}
static Reply ended(const Sim& sim) {
    return err(sim.fatal.rfind("the design", 0) == 0 ? "finish" : "protocol", sim.fatal, true);
}

// One AXI4-Lite transaction; the reply is empty when it completed (result in `done`).
static Reply transact(Sim& sim, int kind, uint64_t off, uint64_t val, uint64_t strb, uint64_t& used, LiteOp& done) {
    if (off >= (1ULL << CTRL_BITS) || off % 4 || val > 0xFFFFFFFFULL || strb > 0xF)
        return err("usage", "control offset " + hex64(off) + " (a multiple of 4 below " + hex64(1ULL << CTRL_BITS) +
                                "), value or strobes out of range");
    if (sim.lite_stuck) return err("timeout", "the control port is still busy with a transaction that timed out");
    LiteOp op;
    op.kind = kind;
    op.addr = static_cast<uint32_t>(off);
    op.data = static_cast<uint32_t>(val);
    op.strb = static_cast<uint32_t>(strb);
    const uint64_t t0 = sim.cycle;
    if (sim.lite(op, used, done)) return {"", false};
    if (!sim.fatal.empty()) return ended(sim);
    return err("timeout", std::string(kind == 1 ? "write of " : "read of ") + "control offset " + hex64(off) +
                              " not answered after " + std::to_string(used) + " cycles (from cycle " +
                              std::to_string(t0) + "); memory side: " + sim.stats_json());
}

static Reply cmd_poll(Sim& sim, const std::vector<std::string>& a) {
    uint64_t off, mask, limit, gap = 0;
    if (a.size() < 4 || a.size() > 5 || !parse_u64(a[1], off) || !parse_u64(a[2], mask) || !parse_u64(a[3], limit) ||
        (a.size() == 5 && !parse_u64(a[4], gap)))
        return err("usage", "poll OFFSET MASK MAX_CYCLES [GAP]");
    uint64_t total = 0;
    for (;;) {
        uint64_t used = 0;
        LiteOp done;
        Reply r = transact(sim, 2, off, 0, 0xF, used, done);
        if (!r.text.empty()) return r;
        total += used;
        if ((done.rdata & mask) || total >= limit)
            return ok(std::to_string(done.rdata) + " " + std::to_string(total));
        for (uint64_t i = 0; i < gap && total < limit; ++i, ++total)
            if (!sim.step()) return ended(sim);
    }
}

static bool range_ok(uint64_t addr, uint64_t n) { return n == 0 || addr <= UINT64_MAX - (n - 1); }

static Reply cmd_mem(Sim& sim, const std::vector<std::string>& a) {
    const std::string& c = a[0];
    uint64_t addr = 0, n = 0;
    if (c == "memw") {
        if (a.size() != 3 || !parse_u64(a[1], addr) || a[2].size() % 2) return err("usage", "memw ADDR HEXBYTES");
        const std::string& h = a[2];
        std::vector<uint8_t> bytes(h.size() / 2);
        for (size_t i = 0; i < bytes.size(); ++i) {
            const int hi = hex_digit(h[2 * i]), lo = hex_digit(h[2 * i + 1]);
            if (hi < 0 || lo < 0) return err("usage", "memw: not hexadecimal bytes");
            bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
        }
        if (!range_ok(addr, bytes.size())) return err("usage", "memw: past the end of the 64-bit address space");
        sim.mem.write(addr, bytes.data(), bytes.size());
        return ok();
    }
    if (c == "memwf") {
        if (a.size() != 3 || !parse_u64(a[1], addr)) return err("usage", "memwf ADDR PATH");
        FILE* f = std::fopen(a[2].c_str(), "rb");
        if (!f) return err("usage", "memwf: cannot read " + a[2]);
        std::vector<uint8_t> bytes;
        uint8_t chunk[1 << 16];
        size_t k;
        while ((k = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + k);
        std::fclose(f);
        if (!range_ok(addr, bytes.size())) return err("usage", "memwf: past the end of the 64-bit address space");
        sim.mem.write(addr, bytes.data(), bytes.size());
        return ok(std::to_string(bytes.size()));
    }
    const bool to_file = c == "memrf";
    if (a.size() != (to_file ? 4u : 3u) || !parse_u64(a[1], addr) || !parse_u64(a[2], n))
        return err("usage", to_file ? "memrf ADDR N PATH" : "memr ADDR N");
    if (!range_ok(addr, n) || n > (1ULL << 32)) return err("usage", "memr: at most 4 GiB inside the address space");
    std::vector<uint8_t> bytes(n);
    sim.mem.read(addr, bytes.data(), n);
    if (to_file) {
        FILE* f = std::fopen(a[3].c_str(), "wb");
        if (!f || std::fwrite(bytes.data(), 1, n, f) != n) {
            if (f) std::fclose(f);
            return err("usage", "memrf: cannot write " + a[3]);
        }
        std::fclose(f);
        return ok();
    }
    static const char digits[] = "0123456789abcdef";
    std::string h(3 + 2 * n, ' ');
    h[0] = 'o', h[1] = 'k', h[2] = ' ';
    for (uint64_t i = 0; i < n; ++i) {
        h[3 + 2 * i] = digits[bytes[i] >> 4];
        h[4 + 2 * i] = digits[bytes[i] & 15];
    }
    if (n == 0) h.resize(2);
    return {h, false};
}

static Reply command(Sim& sim, const std::vector<std::string>& a) {
    const std::string& c = a[0];
    uint64_t off = 0, val = 0, strb = 0xF, n = 0, used = 0;
    LiteOp done;
    if (c == "w32") {
        if (a.size() < 3 || a.size() > 4 || !parse_u64(a[1], off) || !parse_u64(a[2], val) ||
            (a.size() == 4 && !parse_u64(a[3], strb)))
            return err("usage", "w32 OFFSET VALUE [STRB]");
        Reply r = transact(sim, 1, off, val, strb, used, done);
        return r.text.empty() ? ok(std::to_string(done.resp)) : r;
    }
    if (c == "r32") {
        if (a.size() != 2 || !parse_u64(a[1], off)) return err("usage", "r32 OFFSET");
        Reply r = transact(sim, 2, off, 0, 0xF, used, done);
        return r.text.empty() ? ok(std::to_string(done.rdata) + " " + std::to_string(done.resp)) : r;
    }
    if (c == "poll") return cmd_poll(sim, a);
    if (c == "run") {
        if (a.size() != 2 || !parse_u64(a[1], n)) return err("usage", "run CYCLES");
        for (uint64_t i = 0; i < n; ++i)
            if (!sim.step()) return ended(sim);
        return ok();
    }
    if (c.rfind("mem", 0) == 0 && (c == "memw" || c == "memwf" || c == "memr" || c == "memrf")) return cmd_mem(sim, a);
    if (c == "cycle" && a.size() == 1) return ok(std::to_string(sim.cycle));
    if (c == "stats" && a.size() == 1) return ok(sim.stats_json());
    if (c == "reset") {
        if (a.size() != 2 || !parse_u64(a[1], n) || n < 1 || n > 1000000) return err("usage", "reset CYCLES (1..1e6)");
        sim.reset_cycles(n);
        return ok();
    }
    return err("usage", "unknown command: " + c);
}

static bool parse_options(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k[0] == '+') continue;  // plusargs: the design's ($test$plusargs, $value$plusargs)
        if (i + 1 >= argc) return false;
        const std::string v = argv[++i];
        uint64_t u = 0;
        double p = 0;
        if (k == "--waves") {
            o.waves = argv[i];
            continue;
        }
        if (k.rfind("--stall", 0) == 0 || k == "--lite-stall") {
            char* end = nullptr;
            p = std::strtod(v.c_str(), &end);
            if (!end || *end || !(p >= 0 && p < 1)) return false;
            if (k == "--stall-read") o.stall_read = p;
            else if (k == "--stall-write") o.stall_write = p;
            else if (k == "--stall") o.stall_read = o.stall_write = p;
            else if (k == "--lite-stall") o.stall_lite = p;
            else return false;
            continue;
        }
        if (!parse_u64(v, u)) return false;
        if (k == "--mem-latency" && u >= 1) o.latency = u;
        else if (k == "--seed") o.seed = u;
        else if (k == "--max-reads" && u >= 1) o.max_reads = u;
        else if (k == "--max-writes" && u >= 1) o.max_writes = u;
        else if (k == "--lite-timeout" && u >= 1) o.lite_timeout = u;
        else return false;
    }
    return true;
}

int main(int argc, char** argv) {
    Options o;
    if (!parse_options(argc, argv, o)) {
        std::fprintf(stderr,
                     "usage: %s [--mem-latency L>=1] [--stall P] [--stall-read P] [--stall-write P] [--lite-stall P] "
                     "[--seed S] [--max-reads N] [--max-writes N] [--lite-timeout N] [--waves FILE] [+plusargs]\n"
                     "then commands on stdin (see the head of system_harness.cpp)\n",
                     argv[0]);
        return EXIT_USAGE;
    }
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto dut = std::make_unique<Vdut>(ctx.get(), "dut");
    Sim sim(ctx.get(), dut.get(), o);
#if VM_TRACE_FST
    std::unique_ptr<VerilatedFstC> fst;
    if (o.waves) {
        ctx->traceEverOn(true);
        fst = std::make_unique<VerilatedFstC>();
        dut->trace(fst.get(), 99);
        fst->open(o.waves);
        sim.trace(fst.get());
    }
#else
    if (o.waves) std::fprintf(stderr, "system_harness: built without waveform support; --waves ignored\n");
#endif
    // answers on the original stdout; whatever the design prints ($display, Verilator's
    // messages) goes to stderr, so it can never be mistaken for an answer
    std::fflush(stdout);
    const int answer_fd = dup(1);
    FILE* answers = answer_fd >= 0 ? fdopen(answer_fd, "w") : nullptr;
    if (!answers || dup2(2, 1) < 0) {
        std::fprintf(stderr, "system_harness: cannot set up the answer channel\n");
        return EXIT_USAGE;
    }
    sim.reset(RESET_CYCLES);

    std::ios::sync_with_stdio(false);
    std::string line;
    std::vector<std::string> args;
    int code = EXIT_OK;
    while (std::getline(std::cin, line)) {
        split(line, args);
        if (args.empty()) continue;
        if (args[0] == "quit") {
            std::fputs("ok\n", answers);
            std::fflush(answers);
            break;
        }
        const Reply r = command(sim, args);
        std::fflush(stdout);  // the design's output first (on stderr)
        std::fwrite(r.text.data(), 1, r.text.size(), answers);
        std::fputc('\n', answers);
        std::fflush(answers);
        if (r.fatal) {
            code = EXIT_FATAL;
            break;
        }
    }
    dut->final();
#if VM_TRACE_FST
    if (fst) fst->close();
#endif
    return code;
}
