using MambaByte.Core.Evaluation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

/// <summary>bf16 mixed precision on the CPU as mamba_ssm runs it, against the float32 run of the same model.</summary>
public sealed class MixedPrecisionTests
{
    [Fact]
    public void The_working_copy_keeps_A_log_D_dt_bias_and_norms_in_float32_and_matrices_in_bf16()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        using var master = new MambaLMHeadModel(MambaConfig.Tiny, seed: 4);
        using var working = new MambaLMHeadModel(MambaConfig.Tiny, seed: 4);
        working.ToMixedPrecision(bfloat16);
        var kept = new[] { "mixer.A_log", "mixer.D", "mixer.dt_proj.bias", "norm.weight", "norm_f.weight" };
        foreach ((string name, var p) in working.named_parameters())
        {
            bool keep = kept.Any(name.EndsWith);
            Assert.Equal(keep, working.KeepsFloat32(name));
            Assert.True((keep ? float32 : bfloat16) == p.dtype, $"{name}: {p.dtype}");
        }
        Assert.Equal(master.named_parameters().Select(p => p.name), working.named_parameters().Select(p => p.name));

        // The shadow copies the masters down: float32 parameters exactly (A_log had an error of 3.5e-3 when cast to bf16).
        var shadow = new BFloat16Shadow(master, working);
        shadow.CopyWeightsDown();
        var masters = master.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach ((string name, var p) in working.named_parameters())
        {
            Tensor expected = masters[name].to_type(p.dtype).to_type(float32);
            Assert.True(p.to_type(float32).equal(expected).all().item<bool>(), name);
            if (p.dtype == float32) Assert.True(p.equal(masters[name]).all().item<bool>(), name);
        }

        // The loss is computed from float32 logits (a bf16 loss would move in steps of 1/64 near 4 nats).
        Tensor bytes = randint(0, 256, [2, 33], dtype: int64, generator: new Generator(3));
        Tensor input = bytes[.., ..^1], target = bytes[.., 1..];
        double lossFp32 = master.Loss(input, target).item<float>(), lossBf16 = working.Loss(input, target).item<float>();
        Assert.Equal(ScalarType.Float32, working.Loss(input, target).dtype);
        Assert.True(Math.Abs(lossBf16 - lossFp32) < 0.02, $"bf16 loss {lossBf16} vs fp32 {lossFp32}");
        Assert.True(Math.Abs(lossBf16 * 64 - Math.Round(lossBf16 * 64)) > 1e-6 || Math.Abs(lossFp32 - lossBf16) < 1e-6);
    }

    static TrainOptions Options(string dtype, string run) => new()
    {
        Arch = "mamba", Preset = "small", Data = "kjv", Out = run, Device = "cpu", Dtype = dtype, Context = 64, BatchSize = 4,
        Lr = 3e-3, WarmupSteps = 10, MaxSteps = 200, LogEvery = 1, EvalEvery = 0, EvalBytes = 0, CheckpointEvery = 0,
        Tensorboard = false, Seed = 11,
    };

    /// <summary>
    /// 200 steps of the `small` preset (0.7M parameters) on kjv from one initialisation and one batch order, in
    /// float32 and in bf16 mixed precision. Tolerance: bf16 rounds each matrix product's operands to 8 mantissa bits
    /// (relative 2⁻⁹ ≈ 0.2%), which moves the first loss by well under 0.01 nats; later steps also differ because
    /// the two trajectories drift apart (AdamW normalises every gradient, so a small difference in a small gradient is
    /// a full-size step apart). We compare the mean loss of the last 50 steps, where both runs have learned the same
    /// byte statistics (about 3.6 → 2.4 nats): within 0.05 nats, 2% of the loss. An fp32-only bug in the
    /// bf16 path (a wrong cast, a bf16 A_log, a bf16 loss) moves it by more (measured: a bf16 A_log alone ≈ 0.1).
    /// Then the fp32 run's final weights are evaluated in both precisions on the validation split: within 0.02 bits/byte.
    /// </summary>
    [Fact]
    public void Bf16_mixed_precision_trains_like_float32_and_evaluates_within_0_02_bits_per_byte()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        var losses = new Dictionary<string, List<double>>();
        foreach (string dtype in new[] { "float32", "bfloat16" })
        {
            TrainOptions options = Options(dtype, temp.File(dtype));
            using var data = new TrainingData(options);
            new Trainer(options, data.Services(), new PlainProgress(TextWriter.Null)).Run();
            losses[dtype] = MetricsLog.Read(Path.Combine(options.Out, "metrics.csv")).Where(r => r.Kind == "train").Select(r => r.Loss).ToList();
        }
        Assert.Equal(200, losses["float32"].Count);
        Assert.Equal(200, losses["bfloat16"].Count);
        Assert.True(Math.Abs(losses["float32"][0] - losses["bfloat16"][0]) < 0.01, $"first step: {losses["bfloat16"][0]} vs {losses["float32"][0]}");
        double fp32 = losses["float32"].TakeLast(50).Average(), bf16 = losses["bfloat16"].TakeLast(50).Average();
        Assert.True(fp32 < losses["float32"][0] - 0.5, $"the float32 run did not learn: {losses["float32"][0]} → {fp32}");
        Assert.True(Math.Abs(fp32 - bf16) < 0.05, $"mean loss of the last 50 steps: bf16 {bf16:F4} vs fp32 {fp32:F4}");

        TrainOptions evalOptions = Options("float32", temp.File("float32")) with { EvalBytes = 20000 };
        using var store = new TrainingData(evalOptions);
        IReadOnlyList<ReadOnlyMemory<byte>> validation = store.Services().EvalDocuments(evalOptions)!;
        using ByteLanguageModel trained = MambaByte.Core.Checkpoints.ModelCheckpoint.Load(RunDirectory.Resolve(temp.File("float32")), CPU);
        double bppFp32 = BitsPerByteEvaluator.Windowed(trained, validation, context: 64, stride: 64).BitsPerByte;
        trained.ToMixedPrecision(bfloat16);
        double bppBf16 = BitsPerByteEvaluator.Windowed(trained, validation, context: 64, stride: 64).BitsPerByte;
        Assert.True(Math.Abs(bppFp32 - bppBf16) < 0.02, $"bf16 evaluation {bppBf16:F4} vs fp32 {bppFp32:F4} bits/byte");
    }

    [Fact]
    public void Cpu_bf16_units_are_read_from_the_flags()
    {
        var amx = CpuFeatures.FromFlags(new HashSet<string> { "avx512f", "amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni" });
        Assert.Equal("AMX-BF16, AVX512-BF16", amx.Bf16Units);
        Assert.Equal("AMX-INT8, AVX512-VNNI", amx.Int8Units);
        var zen4 = CpuFeatures.FromFlags(new HashSet<string> { "avx2", "avx512f", "avx512_bf16", "avx512_vnni" });
        Assert.True(zen4.HasBf16Units && !zen4.AmxBf16);
        Assert.Equal("AVX512-BF16", zen4.Bf16Units);
        var plain = CpuFeatures.FromFlags(new HashSet<string> { "avx2", "fma" });
        Assert.False(plain.HasBf16Units);
        Assert.Equal("none", plain.Bf16Units);
    }
}
