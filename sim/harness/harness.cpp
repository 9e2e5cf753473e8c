// bnnforge: compiled Verilator testbench for one AXI-Stream design (no Python per cycle).
//
// Built by bnnforge.sim.harness: Verilator compiles the design as class Vdut
// (--prefix Vdut) and this file together with harness_ports.h, generated per design,
// which names the ports (slave/master stream, taps, counters) and their widths.
//
// Run:  harness --in IN.hex --expect N --out OUT.txt --status STATUS.json
//               [--stall-in P] [--stall-out P] [--seed S] [--max-idle N] [--max-cycles N]
//               [--tail N] [--taps DIR] [--waves FILE.fst]
//   IN.hex      one input beat per line, hexadecimal (no 0x), all frames back to back
//   OUT.txt     one output beat per line: "<cycle> <hex>"
//   DIR         with --taps, DIR/tap_<name>.txt per tap, same format as OUT.txt
//   STATUS.json status, cycle counts, per-stream state, counter maxima (written last)
// Cycles: ap_rst_n is held low for RESET_CYCLES cycles (TVALID, TREADY low); then the
// k-th rising clock edge is cycle k (from 0); a beat is stamped with the cycle of the
// edge that took it. Exit codes: 0 done, 2 deadlock (no beat moved on any stream for
// --max-idle cycles), 3 cycle limit (--max-cycles), 1 usage or I/O error.
// After the last expected output beat, --tail cycles run with TREADY high; beats that
// appear then are written to OUT.txt too (and counted as extra in STATUS.json).

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "Vdut.h"
#include "verilated.h"
#if VM_TRACE_FST
#include "verilated_fst_c.h"
#endif

enum ExitCode { EXIT_DONE = 0, EXIT_USAGE = 1, EXIT_DEADLOCK = 2, EXIT_CYCLE_LIMIT = 3 };
static const int RESET_CYCLES = 4;

// ---- port values as little-endian 32-bit words, whatever Verilator's storage type --------

constexpr int words_of(int bits) { return (bits + 31) / 32; }

// Verilator stores a port of w bits as CData (w<=8), SData (<=16), IData (<=32),
// QData (<=64) or VlWide<ceil(w/32)>; checked at compile time against the declared width.
constexpr int storage_bits_of(int bits) {
    return bits <= 8 ? 8 : bits <= 16 ? 16 : bits <= 32 ? 32 : bits <= 64 ? 64 : 32 * words_of(bits);
}
template <typename T> struct StorageBits { static constexpr int value = 8 * sizeof(T); };
template <std::size_t N> struct StorageBits<VlWide<N>> { static constexpr int value = 32 * N; };
#define PORT_BITS_OK(sig, bits) \
    (StorageBits<std::remove_cv_t<std::remove_reference_t<decltype(sig)>>>::value == storage_bits_of(bits))

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

#include "harness_ports.h"

static_assert(PORT_BITS_OK(static_cast<Vdut*>(nullptr)->IN_PORT(tdata), IN_BITS), "s_axis TDATA width");
static_assert(PORT_BITS_OK(static_cast<Vdut*>(nullptr)->OUT_PORT(tdata), OUT_BITS), "m_axis TDATA width");

static const int IN_WORDS = words_of(IN_BITS);
static const int OUT_WORDS = words_of(OUT_BITS);
static const int MAX_WORDS = 1 + words_of(MAX_TAP_BITS > OUT_BITS ? MAX_TAP_BITS : OUT_BITS);

// ---- seeded random stalls (splitmix64: same sequence on every platform) --------------------

struct Rng {
    uint64_t s;
    uint32_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
    }
};

// A stall with probability p per cycle: next() < threshold (p = 0 never calls the generator).
struct Stall {
    uint64_t threshold = 0;
    void set(double p) { threshold = static_cast<uint64_t>(p * 4294967296.0); }
    bool operator()(Rng& r) const { return threshold != 0 && r.next() < threshold; }
};

// ---- text I/O ------------------------------------------------------------------------------

static bool parse_hex(const char* s, size_t n, uint32_t* w, int nw) {
    std::memset(w, 0, sizeof(uint32_t) * nw);
    int bit = 0;
    for (size_t i = n; i-- > 0;) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return false;
        if (d != 0) {
            if (bit / 32 >= nw) return false;
            w[bit / 32] |= d << (bit % 32);
        }
        bit += 4;
    }
    return true;
}

static void write_hex(FILE* f, uint64_t cycle, uint32_t* w, int nw, int bits) {
    static const char digits[] = "0123456789abcdef";
    if (bits % 32) w[nw - 1] &= (1u << (bits % 32)) - 1u;  // Verilator keeps these clear; be safe
    char buf[32 + 8 * MAX_WORDS];
    char* p = buf + std::snprintf(buf, 24, "%" PRIu64 " ", cycle);
    int top = nw - 1;
    while (top > 0 && w[top] == 0) --top;
    bool lead = true;  // no leading zeros
    for (int i = top; i >= 0; --i) {
        for (int sh = 28; sh >= 0; sh -= 4) {
            unsigned d = (w[i] >> sh) & 0xFu;
            if (lead && d == 0 && !(i == 0 && sh == 0)) continue;
            lead = false;
            *p++ = digits[d];
        }
    }
    *p++ = '\n';
    std::fwrite(buf, 1, p - buf, f);
}

// Input beats: the whole file at once, one hex beat per line (blank lines skipped).
static bool read_beats(const char* path, std::vector<uint32_t>& beats, size_t& count) {
    FILE* f = std::fopen(path, "rb");
    if (!f) return false;
    std::vector<char> text;
    char chunk[1 << 16];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) text.insert(text.end(), chunk, chunk + n);
    std::fclose(f);
    uint32_t w[IN_WORDS];
    count = 0;
    size_t start = 0, line = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
        if (i < text.size() && text[i] != '\n') continue;
        ++line;
        size_t end = i;
        while (end > start && (text[end - 1] == '\r' || text[end - 1] == ' ')) --end;
        if (end > start) {
            if (!parse_hex(&text[start], end - start, w, IN_WORDS) ||
                (IN_BITS % 32 && (w[IN_WORDS - 1] >> (IN_BITS % 32)) != 0)) {
                std::fprintf(stderr, "harness: %s line %zu: not a %d-bit hex beat\n", path, line, IN_BITS);
                return false;
            }
            beats.insert(beats.end(), w, w + IN_WORDS);
            ++count;
        }
        start = i + 1;
    }
    return true;
}

// ---- the run -------------------------------------------------------------------------------

struct StreamStat {
    const char* name;
    const char* kind;  // "in", "out", "tap"
    uint64_t beats = 0;
    int64_t last = -1;  // cycle of the last beat
    bool valid = false, ready = false;  // at the last cycle simulated
};

struct Args {
    const char* in = nullptr;
    const char* out = nullptr;
    const char* status = nullptr;
    const char* taps = nullptr;
    const char* waves = nullptr;
    uint64_t expect = 0, max_idle = 100000, max_cycles = UINT64_MAX, tail = 32, seed = 1;
    double stall_in = 0.0, stall_out = 0.0;
};

static bool parse_args(int argc, char** argv, Args& a) {
    bool have_expect = false;
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        if (k.rfind("+", 0) == 0) continue;  // a plusarg for the design ($value$plusargs) or Verilator
        if (i + 1 >= argc) return false;
        const char* v = argv[++i];
        if (k == "--in") a.in = v;
        else if (k == "--out") a.out = v;
        else if (k == "--status") a.status = v;
        else if (k == "--taps") a.taps = v;
        else if (k == "--waves") a.waves = v;
        else if (k == "--expect") { a.expect = std::strtoull(v, nullptr, 10); have_expect = true; }
        else if (k == "--max-idle") a.max_idle = std::strtoull(v, nullptr, 10);
        else if (k == "--max-cycles") a.max_cycles = std::strtoull(v, nullptr, 10);
        else if (k == "--tail") a.tail = std::strtoull(v, nullptr, 10);
        else if (k == "--seed") a.seed = std::strtoull(v, nullptr, 10);
        else if (k == "--stall-in") a.stall_in = std::strtod(v, nullptr);
        else if (k == "--stall-out") a.stall_out = std::strtod(v, nullptr);
        else return false;
    }
    return a.in && a.out && a.status && have_expect && a.stall_in >= 0 && a.stall_in < 1 && a.stall_out >= 0 &&
           a.stall_out < 1;
}

static void write_status(const Args& a, const char* status, uint64_t cycles, int64_t first_in, uint64_t extra,
                         int64_t last_move, const std::vector<StreamStat>& streams, const uint64_t* counter_max) {
    FILE* f = std::fopen(a.status, "w");
    if (!f) return;
    std::fprintf(f, "{\"status\": \"%s\", \"cycles\": %" PRIu64 ", \"first_in\": %" PRId64
                    ", \"extra_out\": %" PRIu64 ", \"last_move\": %" PRId64 ",\n \"streams\": [",
                 status, cycles, first_in, extra, last_move);
    for (size_t i = 0; i < streams.size(); ++i) {
        const StreamStat& s = streams[i];
        std::fprintf(f, "%s\n  {\"name\": \"%s\", \"kind\": \"%s\", \"beats\": %" PRIu64 ", \"last\": %" PRId64
                        ", \"valid\": %d, \"ready\": %d}",
                     i ? "," : "", s.name, s.kind, s.beats, s.last, s.valid, s.ready);
    }
    std::fprintf(f, "],\n \"counters\": {");
    for (int i = 0; i < N_COUNTERS; ++i)
        std::fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", COUNTER_NAMES[i], counter_max[i]);
    std::fprintf(f, "}}\n");
    std::fclose(f);
}

int main(int argc, char** argv) {
    Args a;
    if (!parse_args(argc, argv, a)) {
        std::fprintf(stderr,
                     "usage: %s --in IN.hex --expect N --out OUT.txt --status STATUS.json [--stall-in P] "
                     "[--stall-out P] [--seed S] [--max-idle N] [--max-cycles N] [--tail N] [--taps DIR] "
                     "[--waves FILE]\n",
                     argv[0]);
        return EXIT_USAGE;
    }
    std::vector<uint32_t> in_beats;
    size_t n_in = 0;
    if (!read_beats(a.in, in_beats, n_in)) {
        std::fprintf(stderr, "harness: cannot read input beats from %s\n", a.in);
        return EXIT_USAGE;
    }
    FILE* out = std::fopen(a.out, "w");
    if (!out) {
        std::fprintf(stderr, "harness: cannot write %s\n", a.out);
        return EXIT_USAGE;
    }
    std::vector<FILE*> tap_files(N_TAPS, nullptr);
    if (a.taps) {
        for (int i = 0; i < N_TAPS; ++i) {
            std::string p = std::string(a.taps) + "/tap_" + TAP_NAMES[i] + ".txt";
            tap_files[i] = std::fopen(p.c_str(), "w");
            if (!tap_files[i]) {
                std::fprintf(stderr, "harness: cannot write %s\n", p.c_str());
                return EXIT_USAGE;
            }
        }
    }

    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto dut = std::make_unique<Vdut>(ctx.get(), "dut");  // harness.py SCOPE
#if VM_TRACE_FST
    std::unique_ptr<VerilatedFstC> fst;
    if (a.waves) {
        ctx->traceEverOn(true);
        fst = std::make_unique<VerilatedFstC>();
        dut->trace(fst.get(), 99);
        fst->open(a.waves);
    }
#define DUMP() \
    if (fst) fst->dump(ctx->time())
#else
    if (a.waves) std::fprintf(stderr, "harness: built without waveform support; --waves ignored\n");
#define DUMP()
#endif
    uint64_t half = 5;  // a 10 ns clock in the waveform, in units of the time precision
    for (int p = ctx->timeprecision(); p < -9; ++p) half *= 10;
    auto tick = [&](Vdut* d) {  // one clock period: low half, then the rising edge
        d->ap_clk = 0;
        d->eval();
        DUMP();
        ctx->timeInc(half);
        d->ap_clk = 1;
        d->eval();
        DUMP();
        ctx->timeInc(half);
    };

    // reset
    dut->IN_PORT(tvalid) = 0;
    dut->OUT_PORT(tready) = 0;
    dut->ap_rst_n = 0;
    for (int i = 0; i < RESET_CYCLES; ++i) tick(dut.get());
    dut->ap_rst_n = 1;

    std::vector<StreamStat> streams;
    streams.push_back({IN_NAME, "in"});
    streams.push_back({OUT_NAME, "out"});
    for (int i = 0; i < N_TAPS; ++i) streams.push_back({TAP_NAMES[i], "tap"});
    StreamStat& sin = streams[0];
    StreamStat& sout = streams[1];
    uint8_t tap_valid[N_TAPS + 1] = {0}, tap_ready[N_TAPS + 1] = {0};
    uint64_t counter_val[N_COUNTERS + 1] = {0}, counter_max[N_COUNTERS + 1] = {0};
    uint32_t words[MAX_WORDS];

    Rng rng{a.seed * 0x2545F4914F6CDD1DULL + 1};
    Stall stall_in, stall_out;
    stall_in.set(a.stall_in);
    stall_out.set(a.stall_out);

    size_t next_in = 0;
    bool holding = false;  // TVALID raised with beat next_in, held until taken
    uint64_t cycle = 0, extra = 0, done_at = 0, tail_left = 0;
    int64_t last_move = -1;  // cycle of the last beat on any stream
    int64_t first_in = -1;
    bool done = false;
    int code = EXIT_DONE;
    const char* status = "done";

    for (;;) {
        // drive the testbench side for this cycle (clock low)
        if (!holding && next_in < n_in && !stall_in(rng)) {
            put_words(dut->IN_PORT(tdata), &in_beats[next_in * IN_WORDS], IN_WORDS);
            holding = true;
        }
        dut->IN_PORT(tvalid) = holding;
        const bool ready = done || !stall_out(rng);
        dut->OUT_PORT(tready) = ready;
        dut->ap_clk = 0;
        dut->eval();
        DUMP();
        ctx->timeInc(half);

        // sample what the rising edge will take
        bool moved = false;
        sin.valid = holding;
        sin.ready = dut->IN_PORT(tready);
        const bool in_fire = holding && sin.ready;
        sout.valid = dut->OUT_PORT(tvalid);
        sout.ready = ready;
        if (sout.valid && ready) {
            get_words(dut->OUT_PORT(tdata), words, OUT_WORDS);
            write_hex(out, cycle, words, OUT_WORDS, OUT_BITS);
            ++sout.beats;
            sout.last = static_cast<int64_t>(cycle);
            moved = true;
            if (done) ++extra;
        }
        if (N_TAPS) {
            sample_taps(dut.get(), tap_valid, tap_ready);
            for (int i = 0; i < N_TAPS; ++i) {
                StreamStat& s = streams[2 + i];
                s.valid = tap_valid[i];
                s.ready = tap_ready[i];
                if (s.valid && s.ready) {
                    ++s.beats;
                    s.last = static_cast<int64_t>(cycle);
                    moved = true;
                    if (tap_files[i]) {
                        tap_data(dut.get(), i, words);
                        write_hex(tap_files[i], cycle, words, words_of(TAP_BITS[i]), TAP_BITS[i]);
                    }
                }
            }
        }
        if (N_COUNTERS) {
            sample_counters(dut.get(), counter_val);
            for (int i = 0; i < N_COUNTERS; ++i)
                if (counter_val[i] > counter_max[i]) counter_max[i] = counter_val[i];
        }

        // rising edge
        dut->ap_clk = 1;
        dut->eval();
        DUMP();
        ctx->timeInc(half);
        if (in_fire) {
            if (first_in < 0) first_in = static_cast<int64_t>(cycle);
            ++sin.beats;
            sin.last = static_cast<int64_t>(cycle);
            ++next_in;
            holding = false;
            moved = true;
        }
        if (moved) last_move = static_cast<int64_t>(cycle);
        ++cycle;

        if (done) {
            if (--tail_left == 0) break;
            continue;
        }
        if (sout.beats >= a.expect && next_in >= n_in) {
            done = true;
            done_at = cycle;
            if (a.tail == 0) break;
            tail_left = a.tail;
            continue;
        }
        if (static_cast<int64_t>(cycle) - 1 - last_move >= static_cast<int64_t>(a.max_idle)) {
            code = EXIT_DEADLOCK;
            status = "deadlock";
            break;
        }
        if (cycle >= a.max_cycles) {
            code = EXIT_CYCLE_LIMIT;
            status = "cycle_limit";
            break;
        }
    }
    if (!done) done_at = cycle;
    dut->final();
#if VM_TRACE_FST
    if (fst) fst->close();
#endif
    std::fclose(out);
    for (FILE* f : tap_files)
        if (f) std::fclose(f);
    write_status(a, status, done_at, first_in, extra, last_move, streams, counter_max);
    return code;
}
