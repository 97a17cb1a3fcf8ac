using MambaByte.Core.Native;
using MambaByte.Core.Ops;
using TorchSharp;
using static MambaByte.Tests.Ops.ScanTestInputs;
using static TorchSharp.torch;

namespace MambaByte.Tests.Ops;

public sealed class SelectiveScanTests
{
    static readonly SelectiveScanKind[] Kinds = [SelectiveScanKind.Reference, SelectiveScanKind.Parallel, SelectiveScanKind.FusedCpu];

    /// <summary>
    /// The matrix: batch 1 and 3 × length 1, 7, 64, 1000 × d_state 1, 4, 16 for each dtype, with the five
    /// flags (z, Δ-bias, softplus, initial state, returned last state) rotated so every flag is on and off at every
    /// length, plus all-on and all-off cases. d_inner is 11 (5 at length 1000), not a multiple of any SIMD width.
    /// </summary>
    public static TheoryData<string, int, int, int, int> Matrix()
    {
        var data = new TheoryData<string, int, int, int, int>();
        foreach (string dtype in new[] { "float64", "float32" })
        {
            int i = dtype == "float64" ? 0 : 5;
            foreach (int batch in new[] { 1, 3 })
            foreach (int length in new[] { 1, 7, 64, 1000 })
            foreach (int states in new[] { 1, 4, 16 })
                data.Add(dtype, batch, length, states, (i++ * 13) % 32);
            data.Add(dtype, 3, 200, 16, 31);
            data.Add(dtype, 3, 200, 16, 0);
        }
        return data;
    }

    static ScanCase CaseOf(int batch, int length, int states, int flags) =>
        new(batch, length == 1000 ? 5 : 11, length, states,
            WithZ: (flags & 1) != 0, WithDeltaBias: (flags & 2) != 0, Softplus: (flags & 4) != 0,
            WithInitialState: (flags & 8) != 0, ReturnLastState: (flags & 16) != 0);

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Parallel_and_FusedCpu_match_Reference_values_and_gradients(string dtype, int batch, int length, int states, int flags)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        ScanCase c = CaseOf(batch, length, states, flags);
        var inputs = Make(c, seed: 1000 * length + 10 * states + flags);
        var gen = new Generator(99);
        Tensor gy = randn([c.Batch, c.Channels, c.Length], dtype: float64, generator: gen);
        Tensor gLast = randn([c.Batch, c.Channels, c.States], dtype: float64, generator: gen);

        // The truth: Reference in float64 (for float32 runs, on the same float32-rounded inputs).
        var rounded = dtype == "float64" ? inputs : inputs.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(float32).to_type(float64));
        var truth = ValuesAndGradients(SelectiveScanKind.Reference, rounded, float64, c, gy, gLast);
        Assert.Equal(c.ReturnLastState, truth.Last is not null);

        foreach (SelectiveScanKind kind in dtype == "float64" ? Kinds[1..] : Kinds)
        {
            var got = ValuesAndGradients(kind, inputs, dtype == "float64" ? float64 : float32, c, gy, gLast);
            Tolerances tol = dtype == "float64" ? Tolerances.Float64 : Tolerances.Float32(c.WithZ);
            AssertClose($"{kind} y", got.Y, truth.Y, tol.Out.R, tol.Out.A);
            if (c.ReturnLastState) AssertClose($"{kind} last state", got.Last!, truth.Last!, tol.Out.R, tol.Out.A);
            foreach ((string name, Tensor expected) in truth.Grads)
            {
                (double r, double a) = tol.For(name);
                AssertClose($"{kind} d{name}", got.Grads[name], expected, r, a);
            }
        }
    }

    /// <summary>Tolerances: float64 1e-10; float32 as mamba_ssm tests/ops/test_selective_scan.py.</summary>
    sealed record Tolerances((double R, double A) Out, (double R, double A) Weights)
    {
        public static readonly Tolerances Float64 = new((1e-10, 1e-10), (1e-10, 1e-10));

        public static Tolerances Float32(bool hasZ) => new((6e-4, 2e-3), hasZ ? (1e-3, 2e-3) : (1e-3, 1e-3));

        bool IsFloat64 => Out.R < 1e-6;

        public (double R, double A) For(string input) => IsFloat64 ? Out : input switch
        {
            "u" => (Out.R * 2, Out.A * 2),
            "delta" => (Out.R * 5, Out.A * 10),
            "A" => (Weights.R, Weights.A * 5),
            "B" or "C" => Out,
            "h0" => (Out.R * 2, Out.A * 2),
            _ => Weights, // D, z, deltaBias
        };
    }

    [Fact]
    public void Reference_matches_a_scalar_loop_over_the_equations()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var c = new ScanCase(2, 3, 10, 4, WithZ: true, WithDeltaBias: true, Softplus: true, WithInitialState: true, ReturnLastState: true);
        var x = Make(c, seed: 5);
        x["delta"] = x["delta"] - 0.6; // negative raw steps so softplus matters
        ScanResult r = Scan(SelectiveScanKind.Reference, x, c);
        double[] y = r.Y.data<double>().ToArray(), last = r.LastState!.data<double>().ToArray();

        double[] u = x["u"].data<double>().ToArray(), delta = x["delta"].data<double>().ToArray(), A = x["A"].data<double>().ToArray();
        double[] B = x["B"].data<double>().ToArray(), C = x["C"].data<double>().ToArray(), D = x["D"].data<double>().ToArray();
        double[] z = x["z"].data<double>().ToArray(), bias = x["deltaBias"].data<double>().ToArray(), h0 = x["h0"].data<double>().ToArray();
        long bs = c.Batch, ds = c.Channels, ls = c.Length, ns = c.States;
        for (long b = 0; b < bs; b++)
        for (long d = 0; d < ds; d++)
        {
            var h = new double[ns];
            for (long n = 0; n < ns; n++) h[n] = h0[(b * ds + d) * ns + n];
            for (long t = 0; t < ls; t++)
            {
                long at = (b * ds + d) * ls + t;
                double dt = Math.Log(1 + Math.Exp(delta[at] + bias[d]));
                double acc = 0;
                for (long n = 0; n < ns; n++)
                {
                    long bc = (b * ns + n) * ls + t;
                    h[n] = Math.Exp(dt * A[d * ns + n]) * h[n] + dt * B[bc] * u[at];
                    acc += C[bc] * h[n];
                }
                double expected = (acc + D[d] * u[at]) * z[at] / (1 + Math.Exp(-z[at]));
                Assert.True(Math.Abs(y[at] - expected) <= 1e-12 * (1 + Math.Abs(expected)), $"y[{b},{d},{t}] = {y[at]}, loop gives {expected}");
            }
            for (long n = 0; n < ns; n++)
                Assert.True(Math.Abs(last[(b * ds + d) * ns + n] - h[n]) <= 1e-12 * (1 + Math.Abs(h[n])), $"last[{b},{d},{n}]");
        }
    }

    [Theory]
    [InlineData(SelectiveScanKind.Parallel)]
    [InlineData(SelectiveScanKind.FusedCpu)]
    public void Gradients_match_finite_differences_at_float64(SelectiveScanKind kind)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        // Length 70 crosses FusedCpu's checkpoint interval (64) and Parallel's chunk length (64).
        var c = new ScanCase(2, 3, 70, 4, WithZ: true, WithDeltaBias: true, Softplus: true, WithInitialState: true, ReturnLastState: true);
        var x = Make(c, seed: 17);
        var gen = new Generator(3);
        Tensor gy = randn([c.Batch, c.Channels, c.Length], dtype: float64, generator: gen);
        Tensor gLast = randn([c.Batch, c.Channels, c.States], dtype: float64, generator: gen);
        var analytic = ValuesAndGradients(kind, x, float64, c, gy, gLast).Grads;

        double Loss(Dictionary<string, Tensor> inputs)
        {
            using var inner = NewDisposeScope();
            using var noGrad = no_grad();
            ScanResult r = Scan(kind, inputs, c);
            return ((r.Y * gy).sum() + (r.LastState! * gLast).sum()).item<double>();
        }

        const double eps = 1e-6;
        foreach (string name in x.Keys.ToList())
        {
            Tensor direction = randn(x[name].shape, dtype: float64, generator: gen);
            var plus = new Dictionary<string, Tensor>(x) { [name] = x[name] + eps * direction };
            var minus = new Dictionary<string, Tensor>(x) { [name] = x[name] - eps * direction };
            double numeric = (Loss(plus) - Loss(minus)) / (2 * eps);
            double exact = (analytic[name] * direction).sum().item<double>();
            Assert.True(Math.Abs(numeric - exact) <= 1e-6 * (1 + Math.Abs(exact)), $"{kind} d{name}: finite difference {numeric}, gradient {exact}");
        }
    }

    [Theory]
    [InlineData(SelectiveScanKind.Reference)]
    [InlineData(SelectiveScanKind.Parallel)]
    [InlineData(SelectiveScanKind.FusedCpu)]
    public void Two_windows_with_carried_state_equal_one_scan_in_values_and_gradients(SelectiveScanKind kind)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var c = new ScanCase(2, 4, 137, 4, WithZ: true, WithDeltaBias: true, Softplus: true, WithInitialState: true, ReturnLastState: true);
        var x = Make(c, seed: 23).ToDictionary(kv => kv.Key, kv => kv.Value.requires_grad_());
        var gen = new Generator(8);
        Tensor gy = randn([c.Batch, c.Channels, c.Length], dtype: float64, generator: gen);
        Tensor gLast = randn([c.Batch, c.Channels, c.States], dtype: float64, generator: gen);

        ScanResult whole = Scan(kind, x, c);
        ((whole.Y * gy).sum() + (whole.LastState! * gLast).sum()).backward();
        var wholeGrads = x.ToDictionary(kv => kv.Key, kv => kv.Value.grad!.clone());
        foreach (Tensor leaf in x.Values) leaf.grad!.zero_();

        const int split = 100;
        Dictionary<string, Tensor> Window(int from, int to, Tensor? h0)
        {
            var w = x.ToDictionary(kv => kv.Key, kv => kv.Key is "u" or "delta" or "z" or "B" or "C" ? kv.Value[.., .., from..to] : kv.Value);
            if (h0 is null) w.Remove("h0"); else w["h0"] = h0;
            return w;
        }
        ScanResult first = Scan(kind, Window(0, split, x["h0"]), c);
        ScanResult second = Scan(kind, Window(split, (int)c.Length, first.LastState), c);
        Tensor y = cat([first.Y, second.Y], dim: 2);
        ((y * gy).sum() + (second.LastState! * gLast).sum()).backward();

        AssertClose("y", y.detach(), whole.Y.detach(), 1e-12, 1e-12);
        AssertClose("last state", second.LastState!.detach(), whole.LastState!.detach(), 1e-12, 1e-12);
        foreach ((string name, Tensor leaf) in x)
            AssertClose($"d{name}", leaf.grad!, wholeGrads[name], 1e-10, 1e-10);
    }

    [Fact]
    public void Auto_picks_FusedCpu_for_cpu_float_and_Parallel_for_half_precision()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        Assert.Equal(SelectiveScanKind.FusedCpu, SelectiveScan.Resolve(SelectiveScanKind.Auto, zeros(1, dtype: float32)));
        Assert.Equal(SelectiveScanKind.FusedCpu, SelectiveScan.Resolve(SelectiveScanKind.Auto, zeros(1, dtype: float64)));
        Assert.Equal(SelectiveScanKind.Parallel, SelectiveScan.Resolve(SelectiveScanKind.Auto, zeros(1, dtype: bfloat16)));
        Assert.Equal(SelectiveScanKind.Reference, SelectiveScan.Resolve(SelectiveScanKind.Reference, zeros(1, dtype: float32)));

        // bfloat16 inputs run (upcast to float32) and give y in bfloat16 equal to the float32 computation.
        var c = new ScanCase(1, 3, 20, 4, WithZ: true, WithDeltaBias: false, Softplus: true, WithInitialState: false, ReturnLastState: true);
        var x = Make(c, seed: 4).ToDictionary(kv => kv.Key, kv => kv.Value.to_type(bfloat16));
        ScanResult auto = Scan(SelectiveScanKind.Auto, x, c);
        ScanResult reference = Scan(SelectiveScanKind.Reference, x, c);
        Assert.Equal(ScalarType.BFloat16, auto.Y.dtype);
        Assert.Equal(ScalarType.Float32, auto.LastState!.dtype);
        AssertClose("bf16 y", auto.Y.to_type(float64), reference.Y.to_type(float64), 1e-2, 1e-2);
        AssertClose("bf16 last", auto.LastState.to_type(float64), reference.LastState!.to_type(float64), 1e-4, 1e-4);
    }

    [Fact]
    public void Scans_reject_mismatched_shapes_with_a_clear_message()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var c = new ScanCase(1, 3, 5, 4, false, false, false, false, false);
        var x = Make(c, seed: 1);
        x["B"] = zeros(1, 4, 6, dtype: float64);
        foreach (SelectiveScanKind kind in Kinds)
            Assert.Contains("B must be (1, 4, 5)", Assert.Throws<ArgumentException>(() => Scan(kind, x, c)).Message);
    }
}
