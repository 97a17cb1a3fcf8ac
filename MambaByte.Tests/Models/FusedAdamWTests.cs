using Fused = MambaByte.Core.Modules.Fused;
using MambaByte.Core.Native;
using MambaByte.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Tests.Models;

/// <summary>The fused AdamW against TorchSharp's own AdamW (the reference): same parameters, moments and checkpoints.</summary>
public sealed class FusedAdamWTests
{
    /// <summary>Parameters of odd sizes (not multiples of any SIMD width, one larger than a parallel piece) in two groups.</summary>
    static Parameter[] MakeParameters(ScalarType dtype, ulong seed)
    {
        var gen = new Generator(seed);
        long[][] shapes = [[7, 13], [300_001], [5], [64, 33]];
        return shapes.Select(s => new Parameter(randn(s, dtype: dtype, generator: gen))).ToArray();
    }

    static AdamW.ParamGroup[] Groups(Parameter[] ps) =>
    [
        new(ps.Take(2), lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1),
        new(ps.Skip(2), lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0),
    ];

    /// <summary>Runs both optimizers over the same gradients (a random weighting per step, so grad = the weights), with a learning-rate change on the way.</summary>
    static (Parameter[] Plain, Parameter[] FusedParameters, AdamW PlainOpt, Fused.AdamW FusedOpt) Run(ScalarType dtype, int steps, bool skipOne = false)
    {
        Parameter[] a = MakeParameters(dtype, 1), b = MakeParameters(dtype, 1);
        var plain = new AdamW(Groups(a), lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1);
        var fused = new Fused.AdamW(Groups(b), lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1);
        var gen = new Generator(7);
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            if (step == steps / 2)
                foreach (OptimizerHelper o in new OptimizerHelper[] { plain, fused }) foreach (var g in o.ParamGroups) g.LearningRate = 1e-3;
            plain.zero_grad();
            fused.zero_grad();
            for (int i = 0; i < a.Length; i++)
            {
                if (skipOne && i == 2) continue;                                          // no gradient: AdamW leaves it alone
                Tensor w = randn(a[i].shape, dtype: dtype, generator: gen) * (step % 3 + 0.5);
                (a[i] * w).sum().backward();
                (b[i] * w).sum().backward();
            }
            plain.step();
            fused.step();
        }
        return (a, b, plain, fused);
    }

    /// <summary>max |got − expected| / (|expected| + floor): relative error, absolute below the floor (where a parameter crossed 0 and its last bits are cancellation).</summary>
    static double MaxRelative(Tensor got, Tensor expected, double floor = 1e-6)
    {
        using var scope = NewDisposeScope();
        Tensor g = got.detach().to(float64), e = expected.detach().to(float64);
        return ((g - e).abs() / (e.abs() + floor)).max().item<double>();
    }

    [Theory]
    [InlineData("float64", 1e-13, 1e-6)]
    [InlineData("float32", 1e-6, 1.0)]   // a few float32 ulps of a unit-scale parameter: the two round in different places (FMA, vector width)
    public void Matches_torchsharp_adamw_in_parameters_and_moments_over_many_steps(string dtype, double tolerance, double floor)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var (plain, fused, plainOpt, fusedOpt) = Run(dtype == "float64" ? float64 : float32, steps: 40);
        using (plainOpt) using (fusedOpt)
        {
            Assert.Equal(plain.Length, fusedOpt.FusedLastStep);                        // every parameter went through the fused pass
            for (int i = 0; i < plain.Length; i++)
            {
                double err = MaxRelative(fused[i], plain[i], floor);
                Assert.True(err <= tolerance, $"parameter {i}: relative error {err:E2}");
                Assert.False(plain[i].detach().equal(MakeParameters(plain[i].dtype, 1)[i]).all().item<bool>(), "the parameters moved");
            }
            var plainStates = plainOpt.state_dict().State.Cast<AdamW.State>().ToList();
            var fusedStates = fusedOpt.state_dict().State.Cast<AdamW.State>().ToList();
            for (int i = 0; i < plainStates.Count; i++)
            {
                Assert.Equal(plainStates[i].step, fusedStates[i].step);
                Assert.True(MaxRelative(fusedStates[i].exp_avg, plainStates[i].exp_avg, floor) <= tolerance, $"exp_avg {i}");
                Assert.True(MaxRelative(fusedStates[i].exp_avg_sq, plainStates[i].exp_avg_sq, floor) <= tolerance, $"exp_avg_sq {i}");
            }
        }
    }

    [Fact]
    public void Skips_parameters_without_gradients_and_writes_checkpoints_plain_adamw_loads()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var (plain, fused, plainOpt, fusedOpt) = Run(float64, steps: 6, skipOne: true);
        using (plainOpt) using (fusedOpt)
        {
            Assert.Equal(plain.Length - 1, fusedOpt.FusedLastStep);
            Assert.Equal(0.0, (fused[2] - MakeParameters(float64, 1)[2]).abs().max().item<double>());   // untouched
            string dir = Directory.CreateTempSubdirectory("fused-adamw").FullName;
            try
            {
                // The fused optimizer's state, loaded into a plain AdamW over the fused parameters, steps on exactly as the
                // fused one; and the plain one's loads into a fused one (resuming a checkpoint of either kind).
                string path = Path.Combine(dir, "optimizer.bin"), plainPath = Path.Combine(dir, "plain.bin");
                fusedOpt.save_state_dict(path);
                plainOpt.save_state_dict(plainPath);
                using (var fromPlain = new Fused.AdamW(Groups(MakeParameters(float64, 1)), lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1))
                {
                    fromPlain.load_state_dict(plainPath);
                    var st = (AdamW.State)fromPlain.state_dict().State[0];
                    Assert.Equal(6, st.step);
                }
                Parameter[] copy = fused.Select(p => new Parameter(p.detach().clone())).ToArray();
                using var reloaded = new AdamW(Groups(copy), lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1);
                reloaded.load_state_dict(path);
                var gen = new Generator(11);
                Tensor[] ws = fused.Select(p => randn(p.shape, dtype: float64, generator: gen)).ToArray();
                fusedOpt.zero_grad();
                reloaded.zero_grad();
                for (int i = 0; i < ws.Length; i++) { (fused[i] * ws[i]).sum().backward(); (copy[i] * ws[i]).sum().backward(); }
                fusedOpt.step();
                reloaded.step();
                for (int i = 0; i < ws.Length; i++) Assert.True(MaxRelative(fused[i], copy[i]) <= 1e-13, $"parameter {i} after reload");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }
    }

    [Fact]
    public void Takes_the_tensor_op_path_for_what_it_cannot_fuse_and_still_matches()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var gen = new Generator(3);
        Parameter a = new(randn([40, 3], dtype: bfloat16, generator: gen)), b = new(a.detach().clone());
        using var plain = new AdamW([a], lr: 1e-2, weight_decay: 0.1);
        using var fused = new Fused.AdamW([b], lr: 1e-2, weightDecay: 0.1);
        for (int step = 0; step < 5; step++)
        {
            using var s = NewDisposeScope();
            Tensor w = randn([40, 3], dtype: bfloat16, generator: gen);
            plain.zero_grad(); fused.zero_grad();
            (a * w).sum().backward(); (b * w).sum().backward();
            plain.step(); fused.step();
        }
        Assert.Equal(0, fused.FusedLastStep);
        Assert.Equal(0.0, (a.detach().to(float32) - b.detach().to(float32)).abs().max().item<float>());
    }
}
