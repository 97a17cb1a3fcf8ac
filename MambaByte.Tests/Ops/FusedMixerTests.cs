using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Modules;
using MambaByte.Core.Ops;
using MambaByte.Tests.Support;
using TorchSharp;
using static MambaByte.Tests.Ops.ScanTestInputs;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Ops;

/// <summary>
/// The fused CPU mixer against the tensor-op mixer: the kernels alone against conv1d + silu + the Reference scan
/// composed from plain tensor ops, then whole mixers and whole models run through either path.
/// </summary>
public sealed class FusedMixerTests
{
    /// <summary>Lengths 1, 3, 64, 1000; d_inner odd (13, 7) and a multiple of the SIMD width (16); with and without carried state.</summary>
    public static TheoryData<string, int, int, int, bool, int> KernelCases()
    {
        var data = new TheoryData<string, int, int, int, bool, int>();
        foreach (int bits in new[] { 256, 512 })
        {
            foreach (string dtype in new[] { "float64", "float32" })
            {
                data.Add(dtype, 1, 13, 3, false, bits);
                data.Add(dtype, 3, 13, 3, true, bits);
                data.Add(dtype, 64, 16, 4, true, bits);
                data.Add(dtype, 64, 13, 16, false, bits);
                data.Add(dtype, 1000, 7, 4, true, bits);
            }
            data.Add("float32", 64, 37, 16, true, bits);   // two full 16-lane blocks and a partial one at 512 bits
        }
        return data;
    }

    /// <summary>Every case at both scan widths (256 and 512 bits; 512 runs through .NET's software fallback on a CPU without AVX-512).</summary>
    [Theory]
    [MemberData(nameof(KernelCases))]
    public void Fused_conv_and_scan_match_the_tensor_op_reference_values_and_gradients(string dtype, int length, int channels, int states, bool carried, int vectorBits)
    {
        FusedMixer.VectorBits = vectorBits;   // this thread only
        try { CheckKernels(dtype, length, channels, states, carried); }
        finally { FusedMixer.VectorBits = null; }
    }

    static void CheckKernels(string dtype, int length, int channels, int states, bool carried)
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        const int batch = 2, kernel = 4, dtRank = 2;
        var gen = new Generator((ulong)(length * 100 + channels * 10 + states));
        var inputs = new Dictionary<string, Tensor>
        {
            ["xz"] = randn([batch, length, 2 * channels], dtype: float64, generator: gen),
            ["convWeight"] = 0.5 * randn([channels, 1, kernel], dtype: float64, generator: gen),
            ["convBias"] = 0.1 * randn([channels], dtype: float64, generator: gen),
            ["delta"] = 0.5 * randn([batch, length, channels], dtype: float64, generator: gen),
            ["A"] = -rand([channels, states], dtype: float64, generator: gen) - 0.1,
            ["xDbl"] = randn([batch, length, dtRank + 2 * states], dtype: float64, generator: gen),
            ["D"] = randn([channels], dtype: float64, generator: gen),
            ["deltaBias"] = 0.5 * rand([channels], dtype: float64, generator: gen) - 1,
        };
        if (carried)
        {
            inputs["left"] = randn([batch, channels, kernel - 1], dtype: float64, generator: gen);
            inputs["h0"] = randn([batch, channels, states], dtype: float64, generator: gen);
        }
        Tensor gy = randn([batch, length, channels], dtype: float64, generator: gen);
        Tensor gLast = randn([batch, channels, states], dtype: float64, generator: gen);

        // The truth: the tensor-op composition in float64 (for float32, on the same float32-rounded inputs).
        var rounded = dtype == "float64" ? inputs : inputs.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(float32).to_type(float64));
        var truth = Run(TensorOpMixerOps, rounded, float64, dtRank, gy, gLast);
        var got = Run(FusedMixerOps, inputs, dtype == "float64" ? float64 : float32, dtRank, gy, gLast);

        (double r, double a) = dtype == "float64" ? (1e-10, 1e-10) : (6e-4, 2e-3);    // mamba_ssm's float32 selective-scan tolerances
        (double gr, double ga) = dtype == "float64" ? (1e-10, 1e-10) : (1e-3, 5e-3);
        AssertClose("y", got.Y, truth.Y, r, a);
        AssertClose("last state", got.Last, truth.Last, r, a);
        foreach ((string name, Tensor expected) in truth.Grads)
        {
            // Parameter-like inputs sum over every (batch, position): float32 accumulation error grows with the length.
            double scale = name is "A" or "D" or "deltaBias" or "convWeight" or "convBias" ? Math.Sqrt(length) : 1;
            AssertClose($"d{name}", got.Grads[name], expected, gr * scale, ga * scale);
        }
    }

    delegate (Tensor Y, Tensor Last) MixerOps(IReadOnlyDictionary<string, Tensor> x, int dtRank);

    /// <summary>conv1d over the left-padded, transposed x, silu, then <see cref="SelectiveScan.Reference"/> on transposed inputs.</summary>
    static (Tensor Y, Tensor Last) TensorOpMixerOps(IReadOnlyDictionary<string, Tensor> x, int dtRank)
    {
        Tensor xz = x["xz"];
        long batch = xz.shape[0], channels = xz.shape[2] / 2, kernel = x["convWeight"].shape[2], states = x["A"].shape[1];
        Tensor xPart = xz.narrow(2, 0, channels).transpose(1, 2), z = xz.narrow(2, channels, channels).transpose(1, 2); // (b, e, l)
        Tensor left = x.GetValueOrDefault("left") ?? zeros([batch, channels, kernel - 1], dtype: xz.dtype);
        Tensor xc = F.silu(F.conv1d(cat([left, xPart], dim: 2), x["convWeight"], x["convBias"], groups: channels));    // (b, e, l)
        Tensor B = x["xDbl"].narrow(2, dtRank, states).transpose(1, 2), C = x["xDbl"].narrow(2, dtRank + states, states).transpose(1, 2);
        ScanResult scan = SelectiveScan.Reference(xc, x["delta"].transpose(1, 2), x["A"], B, C, x["D"], z, x["deltaBias"],
            deltaSoftplus: true, initialState: x.GetValueOrDefault("h0"), returnLastState: true);
        return (scan.Y.transpose(1, 2), scan.LastState!);
    }

    static (Tensor Y, Tensor Last) FusedMixerOps(IReadOnlyDictionary<string, Tensor> x, int dtRank)
    {
        Tensor xc = FusedMixer.ConvSilu(x["xz"], x["convWeight"], x["convBias"], x.GetValueOrDefault("left"));
        ScanResult scan = FusedMixer.Scan(xc, x["delta"], x["A"], x["xDbl"], dtRank, x["D"], x["xz"], x["deltaBias"],
            x.GetValueOrDefault("h0"), deltaSoftplus: true, returnLastState: true);
        return (scan.Y, scan.LastState!);
    }

    static (Tensor Y, Tensor Last, Dictionary<string, Tensor> Grads) Run(
        MixerOps ops, IReadOnlyDictionary<string, Tensor> inputs, ScalarType dtype, int dtRank, Tensor gy, Tensor gLast)
    {
        var leaves = inputs.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(dtype).detach().requires_grad_());
        (Tensor y, Tensor last) = ops(leaves, dtRank);
        Tensor loss = (y.to_type(float64) * gy).sum() + (last.to_type(float64) * gLast).sum();
        loss.backward();
        var grads = leaves.ToDictionary(kv => kv.Key, kv => kv.Value.grad?.to_type(float64) ?? throw new InvalidOperationException($"no gradient for {kv.Key}"));
        return (y.detach().to_type(float64), last.detach().to_type(float64), grads);
    }

    /// <summary>Whole mixers: odd d_inner (d_model 13, expand 1), d_state 5, lengths 1, 3, 64, 1000, fresh and carried state.</summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(3, true)]
    [InlineData(64, false)]
    [InlineData(64, true)]
    [InlineData(1000, true)]
    public void Fused_mixer_equals_the_tensor_op_mixer_in_values_gradients_and_state_at_float64(int length, bool carried)
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var config = new MambaConfig { DModel = 13, NLayer = 1, DState = 5, DConv = 4, Expand = 1 };
        manual_seed(length + (carried ? 1 : 0));
        using var mixer = new MambaMixer(config);
        mixer.to(float64);
        var gen = new Generator(7);
        Tensor hidden = randn([2, length, 13], dtype: float64, generator: gen);
        Tensor gOut = randn([2, length, 13], dtype: float64, generator: gen);
        Tensor conv0 = randn([2, 13, 4], dtype: float64, generator: gen), ssm0 = randn([2, 13, 5], dtype: float64, generator: gen);

        var results = new List<(Tensor Out, Tensor GradHidden, Dictionary<string, Tensor> Grads, MambaLayerState? State)>();
        foreach (MixerKind kind in new[] { MixerKind.TensorOps, MixerKind.Fused })
        {
            mixer.zero_grad();
            MambaLayerState? state = null;
            if (carried)
            {
                state = new MambaLayerState(2, 13, 4, 5, float64, CPU);
                state.ConvState.copy_(conv0);
                state.SsmState.copy_(ssm0);
            }
            Tensor h = hidden.clone().requires_grad_();
            Tensor output = mixer.Forward(h, state, SelectiveScanKind.Reference, kind);
            (output * gOut).sum().backward();
            results.Add((output.detach(), h.grad!.clone(), mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone()), state));
        }
        var (reference, fused) = (results[0], results[1]);
        AssertClose("output", fused.Out, reference.Out, 1e-10, 1e-10);
        AssertClose("d hidden", fused.GradHidden, reference.GradHidden, 1e-10, 1e-10);
        Assert.Equal(9, reference.Grads.Count);
        foreach ((string name, Tensor expected) in reference.Grads) AssertClose($"d {name}", fused.Grads[name], expected, 1e-10, 1e-10);
        if (carried)
        {
            AssertClose("conv state", fused.State!.ConvState, reference.State!.ConvState, 0, 0);
            AssertClose("ssm state", fused.State.SsmState, reference.State.SsmState, 1e-10, 1e-10);
        }
    }

    /// <summary>
    /// The one-node mixer (no carried state) with in_proj/out_proj biases, without a conv bias and with conv widths
    /// other than mamba_ssm's 4 (which the conv kernel runs from scratch memory instead of registers), none of which
    /// the default config exercises, against the tensor-op mixer at float64, at both SIMD widths.
    /// </summary>
    [Theory]
    [InlineData(true, false, 4, 256)]
    [InlineData(true, false, 4, 512)]
    [InlineData(false, true, 3, 256)]
    [InlineData(false, true, 3, 512)]
    [InlineData(false, true, 2, 512)]
    [InlineData(true, true, 5, 256)]
    public void Fused_mixer_with_optional_biases_and_other_conv_widths_equals_the_tensor_op_mixer_at_float64(bool bias, bool convBias, int dConv, int vectorBits)
    {
        FusedMixer.VectorBits = vectorBits;   // this thread only
        try { CheckOptionalParts(bias, convBias, dConv); }
        finally { FusedMixer.VectorBits = null; }
    }

    static void CheckOptionalParts(bool bias, bool convBias, int dConv)
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var config = new MambaConfig { DModel = 11, NLayer = 1, DState = 6, Bias = bias, ConvBias = convBias, DConv = dConv };
        manual_seed(21);
        using var mixer = new MambaMixer(config);
        mixer.to(float64);
        using (no_grad())
        {
            foreach ((string name, Tensor p) in mixer.named_parameters())
                if (name.EndsWith(".bias")) p.copy_(randn(p.shape, dtype: float64, generator: new Generator(5)));   // zero at init: make them count
        }
        var gen = new Generator(8);
        Tensor hidden = randn([3, 50, 11], dtype: float64, generator: gen), gOut = randn([3, 50, 11], dtype: float64, generator: gen);
        var results = new List<(Tensor Out, Tensor GradHidden, Dictionary<string, Tensor> Grads)>();
        foreach (MixerKind kind in new[] { MixerKind.TensorOps, MixerKind.Fused })
        {
            mixer.zero_grad();
            Tensor h = hidden.clone().requires_grad_();
            Tensor output = mixer.Forward(h, null, SelectiveScanKind.Reference, kind);
            (output * gOut).sum().backward();
            results.Add((output.detach(), h.grad!.clone(), mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone())));
        }
        Assert.Equal(8 + (bias ? 2 : 0) + (convBias ? 1 : 0), results[0].Grads.Count);
        AssertClose("output", results[1].Out, results[0].Out, 1e-10, 1e-10);
        AssertClose("d hidden", results[1].GradHidden, results[0].GradHidden, 1e-10, 1e-10);
        foreach ((string name, Tensor expected) in results[0].Grads) AssertClose($"d {name}", results[1].Grads[name], expected, 1e-10, 1e-10);
    }

    /// <summary>
    /// bf16 mixed precision as the trainer runs it (bf16 projections and conv, float32 A_log, D and dt_proj.bias): the
    /// one-node mixer against the tensor-op mixer on the same bf16 weights. Both run the same bf16 products and float32
    /// scans, so they differ only where the float32 scans' last bits round a bf16 activation the other way (one bf16
    /// step, 2⁻⁸ relative); the bound allows a few such steps. Every gradient comes back in its parameter's dtype.
    /// </summary>
    [Fact]
    public void Fused_mixer_in_bf16_mixed_precision_matches_the_tensor_op_mixer_and_keeps_parameter_dtypes()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var config = new MambaConfig { DModel = 32, NLayer = 1, DState = 8 };
        manual_seed(4);
        using var mixer = new MambaMixer(config);
        mixer.to(bfloat16);
        mixer.KeepFloat32();
        var gen = new Generator(6);
        Tensor hidden = randn([2, 40, 32], generator: gen).to_type(bfloat16), gOut = randn([2, 40, 32], generator: gen).to_type(bfloat16);
        var results = new List<(Tensor Out, Tensor GradHidden, Dictionary<string, Tensor> Grads)>();
        foreach (MixerKind kind in new[] { MixerKind.TensorOps, MixerKind.Fused })
        {
            mixer.zero_grad();
            Tensor h = hidden.clone().requires_grad_();
            Tensor output = mixer.Forward(h, null, SelectiveScanKind.Reference, kind);
            Assert.Equal(bfloat16, output.dtype);
            (output * gOut).sum().backward();
            foreach (var (name, p) in mixer.named_parameters()) Assert.True(p.dtype == p.grad!.dtype, $"d {name}: {p.grad!.dtype}, parameter {p.dtype}");
            results.Add((output.detach().to_type(float64), h.grad!.to_type(float64),
                mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.to_type(float64))));
        }
        Assert.Equal(float32, mixer.named_parameters().Single(p => p.name == "A_log").parameter.dtype);
        void Close(string what, Tensor actual, Tensor expected)
        {
            double scale = expected.abs().max().item<double>();
            AssertClose(what, actual, expected, 3e-2, 3e-2 * scale);
        }
        Close("output", results[1].Out, results[0].Out);
        Close("d hidden", results[1].GradHidden, results[0].GradHidden);
        foreach ((string name, Tensor expected) in results[0].Grads) Close($"d {name}", results[1].Grads[name], expected);
    }

    /// <summary>
    /// Under bf16 mixed precision the one-node mixer's kernels read xz, Δ and ∂L/∂y in bf16 and write y and ∂L/∂xz in
    /// bf16 themselves. Widening bf16 is exact and the kernels round as libtorch's cast does, so the output and every
    /// gradient must equal, bit for bit, the same mixer run with libtorch's casts to float32 and back in between
    /// (<c>CastBFloat16</c>), at both SIMD widths and with a partial channel block (d_inner 26 = 16 + 10 lanes).
    /// </summary>
    [Theory]
    [InlineData(32, 512)]
    [InlineData(13, 512)]
    [InlineData(13, 256)]
    public void Fused_mixer_reading_bf16_equals_the_mixer_with_cast_passes_bit_for_bit(int dModel, int vectorBits)
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var config = new MambaConfig { DModel = dModel, NLayer = 1, DState = 8 };
        manual_seed(9);
        using var mixer = new MambaMixer(config);
        mixer.to(bfloat16);
        mixer.KeepFloat32();
        var gen = new Generator(10);
        Tensor hidden = randn([2, 37, dModel], generator: gen).to_type(bfloat16), gOut = randn([2, 37, dModel], generator: gen).to_type(bfloat16);
        var results = new List<(Tensor Out, Tensor GradHidden, Dictionary<string, Tensor> Grads)>();
        FusedMixer.VectorBits = vectorBits;   // this thread only
        try
        {
            foreach (bool cast in new[] { true, false })
            {
                Core.Ops.Kernels.FusedMixerFunction.CastBFloat16 = cast;
                mixer.zero_grad();
                Tensor h = hidden.clone().requires_grad_();
                Tensor output = mixer.Forward(h, null, SelectiveScanKind.Auto, MixerKind.Fused);
                output.backward([gOut]);
                results.Add((output.detach().to_type(float64), h.grad!.to_type(float64),
                    mixer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.to_type(float64))));
            }
        }
        finally
        {
            Core.Ops.Kernels.FusedMixerFunction.CastBFloat16 = false;
            FusedMixer.VectorBits = null;
        }
        AssertClose("output", results[1].Out, results[0].Out, 0, 0);
        AssertClose("d hidden", results[1].GradHidden, results[0].GradHidden, 0, 0);
        Assert.Equal(9, results[0].Grads.Count);
        foreach ((string name, Tensor expected) in results[0].Grads) AssertClose($"d {name}", results[1].Grads[name], expected, 0, 0);
    }

    [Theory]
    [InlineData("float64")]
    [InlineData("float32")]
    public void Whole_model_loss_and_gradients_are_the_same_with_either_mixer(string dtype)
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var config = new MambaConfig { DModel = 24, NLayer = 3, DState = 8 };
        using var model = new MambaLMHeadModel(config, seed: 3);
        if (dtype == "float64") model.to(float64);
        Tensor bytes = randint(0, 256, [2, 100], dtype: int64, generator: new Generator(5));
        var losses = new List<double>();
        var grads = new List<Dictionary<string, Tensor>>();
        foreach (MixerKind kind in new[] { MixerKind.TensorOps, MixerKind.Fused })
        {
            model.MixerKind = kind;
            model.zero_grad();
            Tensor logits = model.forward(bytes[.., ..^1]);
            Tensor loss = F.cross_entropy(logits.reshape(-1, 256).to_type(float64), bytes[.., 1..].reshape(-1));
            loss.backward();
            losses.Add(loss.item<double>());
            grads.Add(model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.to_type(float64).clone()));
        }
        Assert.Equal(MixerKind.Fused, MambaMixer.Resolve(MixerKind.Auto, SelectiveScanKind.Auto, bytes.to_type(float32)));
        (double r, double a) = dtype == "float64" ? (1e-10, 1e-12) : (1e-3, 1e-5);
        Assert.True(Math.Abs(losses[0] - losses[1]) <= a + r * Math.Abs(losses[0]), $"loss {losses[1]:R} vs {losses[0]:R}");
        foreach ((string name, Tensor expected) in grads[0]) AssertClose($"d {name}", grads[1][name], expected, r, a);
    }

    [Fact]
    public void One_kernel_thread_gives_the_values_and_gradients_of_the_parallel_kernels()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentOutOfRangeException>(() => FusedMixer.Threads = 0);
        int before = FusedMixer.Threads;
        var config = new MambaConfig { DModel = 40, NLayer = 1, DState = 16 };
        manual_seed(9);
        using var mixer = new MambaMixer(config);
        mixer.to(float64);
        var gen = new Generator(3);
        Tensor hidden = randn([2, 300, 40], dtype: float64, generator: gen), gOut = randn([2, 300, 40], dtype: float64, generator: gen);
        var runs = new List<(Tensor Out, Tensor[] Grads)>();
        try
        {
            foreach (int threads in new[] { 4, 1 })
            {
                FusedMixer.Threads = threads;   // 4 splits the 300·80·16 units of work into tasks, 1 runs them inline
                mixer.zero_grad();
                Tensor output = mixer.Forward(hidden, null, SelectiveScanKind.Auto, MixerKind.Fused);
                (output * gOut).sum().backward();
                runs.Add((output.detach(), mixer.parameters().Select(p => p.grad!.clone()).ToArray()));
            }
        }
        finally
        {
            FusedMixer.Threads = before;
        }
        AssertClose("output", runs[1].Out, runs[0].Out, 0, 0);   // every channel block is computed alone: identical
        for (int i = 0; i < runs[0].Grads.Length; i++) AssertClose($"gradient {i}", runs[1].Grads[i], runs[0].Grads[i], 1e-12, 1e-12);
    }
}
