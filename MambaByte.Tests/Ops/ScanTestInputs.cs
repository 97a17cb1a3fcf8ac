using MambaByte.Core.Ops;
using static TorchSharp.torch;

namespace MambaByte.Tests.Ops;

/// <summary>One selective-scan problem: shapes and which optional inputs are present.</summary>
public sealed record ScanCase(long Batch, long Channels, long Length, long States,
    bool WithZ, bool WithDeltaBias, bool Softplus, bool WithInitialState, bool ReturnLastState);

/// <summary>Random float64 inputs for a <see cref="ScanCase"/>, drawn as mamba_ssm's test_selective_scan.py draws them.</summary>
internal static class ScanTestInputs
{
    public static Dictionary<string, Tensor> Make(ScanCase c, int seed)
    {
        var gen = new Generator((ulong)seed);
        var inputs = new Dictionary<string, Tensor>
        {
            ["u"] = randn([c.Batch, c.Channels, c.Length], dtype: float64, generator: gen),
            ["delta"] = 0.5 * rand([c.Batch, c.Channels, c.Length], dtype: float64, generator: gen),
            ["A"] = -0.5 * rand([c.Channels, c.States], dtype: float64, generator: gen),
            ["B"] = randn([c.Batch, c.States, c.Length], dtype: float64, generator: gen),
            ["C"] = randn([c.Batch, c.States, c.Length], dtype: float64, generator: gen),
            ["D"] = randn([c.Channels], dtype: float64, generator: gen),
        };
        if (c.WithZ) inputs["z"] = randn([c.Batch, c.Channels, c.Length], dtype: float64, generator: gen);
        if (c.WithDeltaBias) inputs["deltaBias"] = 0.5 * rand([c.Channels], dtype: float64, generator: gen);
        if (c.WithInitialState) inputs["h0"] = randn([c.Batch, c.Channels, c.States], dtype: float64, generator: gen);
        return inputs;
    }

    public static ScanResult Scan(SelectiveScanKind kind, IReadOnlyDictionary<string, Tensor> x, ScanCase c) =>
        SelectiveScan.Run(kind, x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"],
            x.GetValueOrDefault("z"), x.GetValueOrDefault("deltaBias"), c.Softplus, x.GetValueOrDefault("h0"), c.ReturnLastState);

    /// <summary>
    /// Runs <paramref name="kind"/> on copies of the inputs in <paramref name="dtype"/> and back-propagates
    /// loss = Σ y·gy + Σ last·gLast; returns y, the last state and every input's gradient, all in float64.
    /// </summary>
    public static (Tensor Y, Tensor? Last, Dictionary<string, Tensor> Grads) ValuesAndGradients(
        SelectiveScanKind kind, IReadOnlyDictionary<string, Tensor> inputs, ScalarType dtype, ScanCase c, Tensor gy, Tensor gLast)
    {
        var leaves = inputs.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(dtype).detach().requires_grad_());
        ScanResult r = Scan(kind, leaves, c);
        Tensor loss = (r.Y.to_type(float64) * gy).sum();
        if (r.LastState is not null) loss = loss + (r.LastState.to_type(float64) * gLast).sum();
        loss.backward();
        var grads = leaves.ToDictionary(kv => kv.Key, kv => kv.Value.grad?.to_type(float64) ?? throw new InvalidOperationException($"{kind}: no gradient for {kv.Key}"));
        return (r.Y.detach().to_type(float64), r.LastState?.detach().to_type(float64), grads);
    }

    /// <summary>Asserts |actual − expected| ≤ atol + rtol·|expected| everywhere, naming the worst element otherwise.</summary>
    public static void AssertClose(string what, Tensor actual, Tensor expected, double rtol, double atol)
    {
        Assert.Equal(expected.shape, actual.shape);
        Tensor excess = (actual - expected).abs() - (atol + rtol * expected.abs());
        if (excess.numel() == 0) return;
        double worst = excess.max().item<double>();
        if (worst > 0)
        {
            long at = excess.argmax().item<long>();
            double a = actual.flatten()[at].item<double>(), e = expected.flatten()[at].item<double>();
            Assert.Fail($"{what}: element {at} is {a:R}, expected {e:R} (rtol {rtol}, atol {atol}); max |diff| {(actual - expected).abs().max().item<double>():G3}");
        }
    }
}
