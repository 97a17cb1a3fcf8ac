using System.Text.Json;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Bench;

namespace MambaByte.Tests.Bench;

public sealed class BenchCommandTests
{
    [Fact]
    public void Quick_bench_writes_every_section_with_positive_numbers_and_consistent_ratios()
    {
        using var dir = new TempDir();
        string jsonPath = Path.Combine(dir.Path, "bench.json");
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, Cli.Run(["bench", "--quick", "--json", jsonPath, "--threads", "1"], output, error));
        Assert.Equal("", error.ToString());
        Assert.False(File.Exists(jsonPath + ".tmp"));

        using var json = JsonDocument.Parse(File.ReadAllText(jsonPath));
        JsonElement root = json.RootElement;
        // Scan memory is the process's resident-set growth: on a busy test host other threads' frees can cancel it out,
        // so those two figures are only required to be present; every other number must be positive.
        AssertAllNumbersPositive(root, "$", ["LoadAverageAtStart", "Warmup", "DraftBytes", "Acceptance"], ["RetainedForBackwardBytes", "PeakForwardBackwardBytes"]);

        BenchPlan plan = BenchPlan.Quick;
        JsonElement matmul = root.GetProperty("Matmul");
        Assert.Equal(plan.MatmulSize, matmul.GetProperty("Size").GetInt32());
        // GFLOP/s is 2n³ over the time: check it against the milliseconds reported beside it.
        double n = plan.MatmulSize, ms = matmul.GetProperty("Milliseconds").GetProperty("Median").GetDouble();
        Assert.Equal(2 * n * n * n / (ms * 1e-3) / 1e9, matmul.GetProperty("Gflops").GetProperty("Median").GetDouble(), 6);
        Assert.Equal(1, root.GetProperty("Machine").GetProperty("TorchThreads").GetInt32());

        JsonElement[] scans = root.GetProperty("Scans").EnumerateArray().ToArray();
        Assert.Equal(plan.ScanLengths.Length * 3, scans.Length);
        foreach (int length in plan.ScanLengths)
        {
            JsonElement[] atLength = scans.Where(s => s.GetProperty("Length").GetInt32() == length).ToArray();
            Assert.Equal(["Reference", "Parallel", "FusedCpu"], atLength.Select(s => s.GetProperty("Kind").GetString()));
            double referenceForward = atLength[0].GetProperty("ForwardMs").GetProperty("Median").GetDouble();
            foreach (JsonElement s in atLength)
                Assert.Equal(referenceForward / s.GetProperty("ForwardMs").GetProperty("Median").GetDouble(), s.GetProperty("ForwardSpeedupVsReference").GetDouble(), 9);
        }

        JsonElement[] models = root.GetProperty("Models").EnumerateArray().ToArray();
        Assert.Equal(["mamba", "transformer", "megabyte"], models.Select(m => m.GetProperty("Architecture").GetString()));
        foreach (JsonElement m in models) Assert.InRange(m.GetProperty("ParametersVsMamba").GetDouble(), 0.9, 1.1);

        // The mixer section: one row per planned (d_model, context), the speed-up the ratio of the two medians.
        JsonElement[] mixers = root.GetProperty("Mixers").EnumerateArray().ToArray();
        Assert.Equal(plan.MixerCases.Select(c => (c.DModel, c.Context)), mixers.Select(m => (m.GetProperty("DModel").GetInt32(), m.GetProperty("Context").GetInt32())));
        foreach (JsonElement m in mixers)
        {
            double tensorOpsMs = m.GetProperty("TensorOpsMs").GetProperty("Median").GetDouble();
            Assert.Equal(tensorOpsMs / m.GetProperty("FusedMs").GetProperty("Median").GetDouble(), m.GetProperty("Speedup").GetDouble(), 9);
            Assert.Equal(tensorOpsMs / m.GetProperty("ProductsMs").GetProperty("Median").GetDouble(), m.GetProperty("Ceiling").GetDouble(), 9);
            // at least the planned warm-up rounds, and timed rounds within the plan's bounds
            Assert.InRange(m.GetProperty("Warmup").GetInt32(), plan.MixerWarmupRounds, int.MaxValue);
            Assert.InRange(m.GetProperty("Repeats").GetInt32(), plan.MixerRounds, plan.MixerMaxRounds);
        }

        // Training: every architecture in every dtype at every context; MFU and training GFLOP/s recomputed from the
        // FLOPs/byte of the model config counted by hand (Mamba) or by the config (baselines) and the step time.
        JsonElement[] training = root.GetProperty("Training").EnumerateArray().ToArray();
        Assert.Equal(3 * plan.TrainingDtypes.Length * plan.TrainingContexts.Length, training.Length);
        Assert.Equal(["float32", "bfloat16"], training.Select(t => t.GetProperty("Dtype").GetString()).Distinct());
        double mambaFlopsPerByte = 3 * HandCountedMambaForwardFlops(plan.Mamba);
        foreach (JsonElement t in training)
        {
            int context = t.GetProperty("Context").GetInt32();
            double stepMs = t.GetProperty("StepMs").GetProperty("Median").GetDouble();
            double bytesPerSecond = t.GetProperty("BytesPerSecond").GetProperty("Median").GetDouble();
            Assert.Equal(context / (stepMs * 1e-3), bytesPerSecond, 6);
            double flopsPerByte = t.GetProperty("FlopsPerByte").GetDouble();
            if (t.GetProperty("Architecture").GetString() == "mamba") Assert.Equal(mambaFlopsPerByte, flopsPerByte, 6);
            double matmulFlops = t.GetProperty("MatmulGflopsSameRounds").GetDouble() * 1e9;
            Assert.Equal(flopsPerByte * bytesPerSecond / matmulFlops, t.GetProperty("Mfu").GetDouble(), 9);
            Assert.Equal(flopsPerByte * bytesPerSecond / 1e9, t.GetProperty("TrainingGflops").GetDouble(), 9);
            // Mamba rows carry the products-alone step time and the MFU at it; the baselines neither.
            bool mamba = t.GetProperty("Architecture").GetString() == "mamba";
            Assert.Equal(mamba ? JsonValueKind.Object : JsonValueKind.Null, t.GetProperty("ProductsMs").ValueKind);
            if (mamba)
                Assert.Equal(flopsPerByte * context / (t.GetProperty("ProductsMs").GetProperty("Median").GetDouble() * 1e-3) / matmulFlops,
                    t.GetProperty("MfuCeiling").GetDouble(), 9);
            else Assert.Equal(JsonValueKind.Null, t.GetProperty("MfuCeiling").ValueKind);
            if (t.GetProperty("Architecture").GetString() != "transformer") continue;
            // The Transformer's FLOPs/byte counted by hand from the plan's shape (README: 3·(L·(8d² + 6dh) + 4dL·(c+1)/2 + 2·256·d),
            // h = 8d/3 rounded up to a multiple of 8), so the MFU rests on a count the bench code did not make.
            double d = plan.Transformer.DModel, layers = plan.Transformer.NLayer, h = plan.Transformer.DMlp ?? Math.Ceiling(8 * d / 3 / 8) * 8;
            double byHand = 3 * (layers * (8 * d * d + 6 * d * h) + 4 * d * layers * (context + 1) / 2 + 2 * 256 * d);
            Assert.Equal(byHand, flopsPerByte, byHand * 1e-12);
            double mfu = byHand * bytesPerSecond / matmulFlops;
            Assert.Equal(mfu, t.GetProperty("Mfu").GetDouble(), mfu * 1e-9);
        }

        JsonElement[] generation = root.GetProperty("Generation").EnumerateArray().ToArray();
        Assert.Equal(3 * plan.GenerationPositions.Length, generation.Length);
        foreach (JsonElement g in generation)
            Assert.Equal(1000 / g.GetProperty("MsPerByte").GetProperty("Median").GetDouble(), g.GetProperty("BytesPerSecond").GetDouble(), 6);

        // Mamba decoding: per shape every batch (fused fp32), int8 and reference at batch 1; one prefill row.
        JsonElement[] decoding = root.GetProperty("Decoding").EnumerateArray().ToArray();
        Assert.Equal(plan.DecodingShapes.Length * (plan.DecodingBatches.Length + 2) + 1, decoding.Length);
        foreach (JsonElement d in decoding)
        {
            double perStep = d.GetProperty("Ms").GetProperty("Median").GetDouble();
            bool prefill = d.GetProperty("Step").GetString() == "prefill";
            double units = prefill ? d.GetProperty("RoundBytes").GetInt32() : d.GetProperty("Batch").GetInt32();
            Assert.Equal(units * 1000 / perStep, d.GetProperty("BytesPerSecond").GetDouble(), 6);
            if (!prefill) Assert.InRange(d.GetProperty("RoundBytes").GetInt32(), plan.DecodingRoundBytes, 100_000);
        }

        // Rounds of fast steps are lengthened to about DecodingRoundMs (5 ms in the quick plan): the fused step of the
        // smallest shape (well under 0.1 ms here) runs more than DecodingRoundBytes (4) steps a round. Only the
        // existence is checked: each length comes from one timing of 4 warm-up steps, which a busy machine can stretch.
        Assert.Contains(decoding, d => d.GetProperty("Step").GetString() == "fused" && d.GetProperty("RoundBytes").GetInt32() > plan.DecodingRoundBytes);

        // Targets: per context and dtype, Mamba against each baseline per training FLOP (2), Mamba's MFU (1) and, per
        // context, bf16 against fp32 (1); one per mixer case; two generation targets; two per scan length; five decoding targets. Each
        // verdict is consistent with its figure; the bf16 speed-up is skipped exactly where the CPU lacks AMX-BF16.
        JsonElement[] targets = root.GetProperty("Targets").EnumerateArray().ToArray();
        int contexts = plan.TrainingContexts.Length, dtypes = plan.TrainingDtypes.Length;
        Assert.Equal(3 * contexts * dtypes + contexts + plan.MixerCases.Length + 2 + 2 * plan.ScanLengths.Length + 5 + 1, targets.Length);
        bool amx = MambaByte.Core.Native.CpuFeatures.Detect().AmxBf16;
        foreach (JsonElement t in targets)
        {
            double measured = t.GetProperty("Measured").GetDouble(), threshold = t.GetProperty("Threshold").GetDouble();
            string name = t.GetProperty("Target").GetString()!;
            bool lowerIsBetter = name.Contains("within", StringComparison.Ordinal);
            Assert.Equal(lowerIsBetter ? measured <= threshold : measured >= threshold, t.GetProperty("Pass").GetBoolean());
            bool skipped = t.GetProperty("Skipped").ValueKind == JsonValueKind.String;
            // Skipped: bf16 without AMX, and speculative decoding between untrained models (the quick bench has no checkpoints).
            Assert.Equal((name.Contains("AMX", StringComparison.Ordinal) && !amx) || name.Contains("speculative", StringComparison.Ordinal), skipped);
        }
        // Ceilings: the mixer targets' is the mixer row's, the MFU targets' the Mamba row's, the bf16 target's the ratio of
        // the two dtypes' products-alone medians; the per-FLOP targets have none.
        double ProductsMs(string dtype, int context) => training.Single(r => r.GetProperty("Architecture").GetString() == "mamba"
            && r.GetProperty("Dtype").GetString() == dtype && r.GetProperty("Context").GetInt32() == context).GetProperty("ProductsMs").GetProperty("Median").GetDouble();
        foreach (JsonElement t in targets)
        {
            string name = t.GetProperty("Target").GetString()!;
            JsonElement ceiling = t.GetProperty("Ceiling");
            if (name.StartsWith("Fused mixer", StringComparison.Ordinal))
                Assert.Equal(mixers.Single(m => name.EndsWith($"(d_model {m.GetProperty("DModel").GetInt32()}, context {m.GetProperty("Context").GetInt32()})", StringComparison.Ordinal))
                    .GetProperty("Ceiling").GetDouble(), ceiling.GetDouble(), 12);
            else if (name.StartsWith("Mamba bf16 training", StringComparison.Ordinal))
            {
                int context = plan.TrainingContexts.Single(c => name.EndsWith($"context {c})", StringComparison.Ordinal));
                Assert.Equal(ProductsMs("float32", context) / ProductsMs("bfloat16", context), ceiling.GetDouble(), 9);
            }
            else if (name.StartsWith("Mamba training MFU", StringComparison.Ordinal))
            {
                JsonElement row = training.Single(r => r.GetProperty("Architecture").GetString() == "mamba" && r.GetProperty("Set").GetString() == "equal"
                    && name.EndsWith($"of the {r.GetProperty("Dtype").GetString()} matmul (context {r.GetProperty("Context").GetInt32()})", StringComparison.Ordinal));
                Assert.Equal(row.GetProperty("MfuCeiling").GetDouble(), ceiling.GetDouble(), 12);
            }
            else if (name.StartsWith("Mamba training FLOP/s", StringComparison.Ordinal)) Assert.Equal(JsonValueKind.Null, ceiling.ValueKind);
        }

        // The per-FLOP ratio of a target is the two rows' training GFLOP/s.
        JsonElement perFlop = targets.First(t => t.GetProperty("Target").GetString()!.StartsWith("Mamba training FLOP/s >= Transformer", StringComparison.Ordinal));
        double Gflops(string arch) => training.First(r => r.GetProperty("Architecture").GetString() == arch).GetProperty("TrainingGflops").GetDouble();
        Assert.Equal(Gflops("mamba") / Gflops("transformer"), perFlop.GetProperty("Measured").GetDouble(), 9);

        // Speculative decoding: plain, then each K with both restores; speed-up = median over plain's median.
        JsonElement[] speculative = root.GetProperty("Speculative").EnumerateArray().ToArray();
        Assert.Equal(1 + 2 * plan.SpeculativeDraftBytes.Length, speculative.Length);
        double plainMedian = speculative[0].GetProperty("BytesPerSecond").GetProperty("Median").GetDouble();
        Assert.Equal(0, speculative[0].GetProperty("DraftBytes").GetInt32());
        foreach (JsonElement r in speculative)
        {
            Assert.Equal(r.GetProperty("BytesPerSecond").GetProperty("Median").GetDouble() / plainMedian, r.GetProperty("SpeedUp").GetDouble(), 9);
            double acceptance = r.GetProperty("Acceptance").GetDouble();
            Assert.InRange(acceptance, 0, 1);
        }

        string text = output.ToString();
        foreach (string title in new[] { "fp32 matmul", "Selective scan", "Models", "Mamba mixer", "Training", "Generation", "Mamba decoding", "Speculative decoding", "Targets" })
            Assert.Contains(title, text);
        Assert.Matches(@"targets: \d+ PASS, \d+ MISS, \d+ SKIPPED", text);
    }

    [Fact]
    public void Bench_rejects_negative_threads_with_a_one_line_error()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(1, Cli.Run(["bench", "--quick", "--threads", "-1"], output, error));
        Assert.Contains("--threads", error.ToString());
    }

    /// <summary>
    /// Mamba's forward FLOPs per byte counted by hand from the config, term by term as the README states them
    /// (matmul 2·in·out; elementwise 1; SiLU 4; softplus 3; RMSNorm 4·d; scan 7·e·n + e).
    /// </summary>
    static double HandCountedMambaForwardFlops(MambaByte.Core.Architectures.Mamba.MambaConfig c)
    {
        double d = c.DModel, e = c.DInner, n = c.DState, r = c.ResolvedDtRank, k = c.DConv, v = c.PaddedVocabSize;
        double inProj = 2 * d * 2 * e, conv = 2 * k * e + e, silu = 4 * e, xProj = 2 * e * (r + 2 * n), dtProj = 2 * r * e + e;
        double softplus = 3 * e, scan = 7 * e * n + e, skip = 2 * e, gate = 4 * e + e, outProj = 2 * e * d;
        double layer = d + 4 * d + inProj + conv + silu + xProj + dtProj + softplus + scan + skip + gate + outProj;
        return c.NLayer * layer + d + 4 * d + 2 * d * v;
    }

    static void AssertAllNumbersPositive(JsonElement element, string path, string[] mayBeZero, string[] anyNumber)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in element.EnumerateObject())
                {
                    if (anyNumber.Contains(p.Name)) Assert.Equal(JsonValueKind.Number, p.Value.ValueKind);
                    else if (mayBeZero.Contains(p.Name)) Assert.True(p.Value.GetDouble() >= 0, $"{path}.{p.Name} is negative");
                    else AssertAllNumbersPositive(p.Value, $"{path}.{p.Name}", mayBeZero, anyNumber);
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (JsonElement item in element.EnumerateArray()) AssertAllNumbersPositive(item, $"{path}[{i++}]", mayBeZero, anyNumber);
                break;
            case JsonValueKind.Number:
                Assert.True(element.GetDouble() > 0, $"{path} is {element.GetDouble()}, expected positive");
                break;
        }
    }
}
