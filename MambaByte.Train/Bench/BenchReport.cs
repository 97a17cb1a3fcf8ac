using System.Globalization;

using MambaByte.Core.Diagnostics;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Train.Bench;

/// <summary>Turns <see cref="BenchResults"/> into the printed tables (one per section) and the target verdicts.</summary>
public static class BenchReport
{
    public static IReadOnlyList<BenchTable> Tables(BenchResults results)
    {
        static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        static string Range(Spread s, string format) => $"{F(s.Median, format)} [{F(s.Min, format)}..{F(s.Max, format)}]";
        static string Mib(long bytes) => F(bytes / 1048576.0, "F1");

        BenchMachine m = results.Machine;
        var machine = new BenchTable("Machine", "CPU", "cores", "torch threads", "device", "started", "load at start", "mode")
            .Add(m.CpuModel, m.LogicalCores.ToString(CultureInfo.InvariantCulture), m.TorchThreads.ToString(CultureInfo.InvariantCulture),
                 m.Device, m.StartedUtc, F(m.LoadAverageAtStart, "F2"), m.Quick ? "quick" : "full");

        MatmulResult mm = results.Matmul;
        var matmul = new BenchTable("fp32 matmul (the machine's reference)", "size", "repeats", "ms median [min..max]", "GFLOP/s median [min..max]")
            .Add($"{mm.Size}x{mm.Size}", mm.Repeats.ToString(CultureInfo.InvariantCulture), Range(mm.Milliseconds, "F1"), Range(mm.Gflops, "F1"));

        var scans = new BenchTable("Selective scan (fp32; speed-up = Reference median / this median at the same length)",
            "kind", "b x d x n x l", "runs", "forward ms", "fwd+bwd ms", "fwd speed-up", "fwd+bwd speed-up", "kept for bwd MiB", "peak fwd+bwd MiB");
        foreach (ScanRow s in results.Scans)
            scans.Add(s.Kind, $"{s.Batch}x{s.Channels}x{s.States}x{s.Length}", $"{s.Warmup}+{s.Repeats}", Range(s.ForwardMs, "F1"), Range(s.ForwardBackwardMs, "F1"),
                F(s.ForwardSpeedupVsReference, "F1") + "x", F(s.ForwardBackwardSpeedupVsReference, "F1") + "x", Mib(s.RetainedForBackwardBytes), Mib(s.PeakForwardBackwardBytes));

        var models = new BenchTable("Models (equal parameters within each set)", "set", "architecture", "parameters", "vs Mamba", "shape");
        foreach (ModelRow r in results.Models)
            models.Add(r.Set, r.Architecture, r.Parameters.ToString("N0", CultureInfo.InvariantCulture), F(r.ParametersVsMamba, "F3"), r.Shape);

        var mixers = new BenchTable("Mamba mixer forward+backward (fp32, batch 1, d_inner 2 x d_model, d_state 16; tensor ops, fused and the four products alone timed alternately, runs = warm-up + timed rounds; ceiling = tensor ops / products alone)",
            "d_model", "context", "runs", "tensor ops ms", "fused ms", "products alone ms", "speed-up", "ceiling");
        foreach (MixerRow r in results.Mixers)
            mixers.Add(r.DModel.ToString(CultureInfo.InvariantCulture), r.Context.ToString(CultureInfo.InvariantCulture), $"{r.Warmup}+{r.Repeats}",
                Range(r.TensorOpsMs, "F2"), Range(r.FusedMs, "F2"), Range(r.ProductsMs, "F2"), F(r.Speedup, "F1") + "x", F(r.Ceiling, "F1") + "x");

        var training = new BenchTable("Training (AdamW step, batch 1, all rows of a context interleaved round by round; training GFLOP/s = FLOPs/byte x bytes/s; MFU = that / matmul FLOP/s of the row's dtype in the same rounds; Mamba's products alone timed in the same rounds, MFU ceiling = the MFU at their step time)",
            "set", "dtype", "architecture", "context", "step ms", "bytes/s", "MFLOP/byte", "training GFLOP/s", "matmul GFLOP/s same rounds", "MFU", "FLOP/s vs Mamba", "products alone ms", "MFU ceiling");
        foreach (TrainingRow r in results.Training)
        {
            double mamba = results.Training.Single(t => t.Set == r.Set && t.Dtype == r.Dtype && t.Architecture == MambaConfig.ArchitectureName && t.Context == r.Context).TrainingGflops;
            training.Add(r.Set, r.Dtype, r.Architecture, r.Context.ToString(CultureInfo.InvariantCulture), Range(r.StepMs, "F0"), Range(r.BytesPerSecond, "F0"),
                F(r.FlopsPerByte / 1e6, "F2"), F(r.TrainingGflops, "F1"), F(r.MatmulGflopsSameRounds, "F1"), F(r.Mfu * 100, "F1") + "%", F(r.TrainingGflops / mamba, "F2") + "x",
                r.ProductsMs is { } p ? Range(p, "F1") : "", r.MfuCeiling is { } c ? F(c * 100, "F1") + "%" : "");
        }

        var generation = new BenchTable("Generation (batch 1, after a prefill to the position; all states interleaved round by round)",
            "architecture", "position", "ms/byte", "bytes/s", "MFLOP/byte", "bytes/s vs Mamba");
        foreach (GenerationRow r in results.Generation)
        {
            double mamba = results.Generation.Single(g => g.Architecture == MambaConfig.ArchitectureName && g.Position == r.Position).BytesPerSecond;
            generation.Add(r.Architecture, r.Position.ToString(CultureInfo.InvariantCulture), Range(r.MsPerByte, "F3"), F(r.BytesPerSecond, "F0"),
                F(r.FlopsPerByte / 1e6, "F2"), F(r.BytesPerSecond / mamba, "F2") + "x");
        }

        var decoding = new BenchTable("Mamba decoding (fused step vs reference, fp32 and int8 weights, batches; configurations interleaved round by round; prefill = prompt processing)",
            "shape", "step", "weights", "batch", "rounds x steps", "ms per step (prefill: per prompt)", "bytes/s", "vs reference batch 1");
        foreach (DecodingRow r in results.Decoding)
        {
            DecodingRow? reference = results.Decoding.FirstOrDefault(d => d.Shape == r.Shape && d.Step == "reference");
            string ratio = reference is null || r.Step == "prefill" ? "" : F(r.BytesPerSecond / reference.BytesPerSecond, "F2") + "x";
            string rounds = r.Step == "prefill" ? r.Rounds.ToString(CultureInfo.InvariantCulture) : $"{r.Rounds} x {r.RoundBytes}";
            decoding.Add(r.Shape, r.Step, r.Weights, r.Batch.ToString(CultureInfo.InvariantCulture), rounds, Range(r.Ms, "F3"), F(r.BytesPerSecond, "F0"), ratio);
        }

        var speculative = new BenchTable("Speculative decoding (greedy; plain and each K and restore alternated run by run; output equal to plain greedy)",
            "target (parameters)", "draft (parameters)", "models", "K", "restore", "bytes/s", "acceptance", "vs plain");
        foreach (SpeculativeRow r in results.Speculative)
            speculative.Add(r.Target, r.Draft, r.Trained ? "trained" : "untrained", r.DraftBytes == 0 ? "plain" : r.DraftBytes.ToString(CultureInfo.InvariantCulture),
                r.Restore, Range(r.BytesPerSecond, "F0"), r.DraftBytes == 0 ? "" : F(r.Acceptance * 100, "F1") + " %", F(r.SpeedUp, "F2") + "x");

        var targets = new BenchTable("Targets (ceiling: the figure if everything but the matrix products took no time, measured in the same run)", "target", "measured", "threshold", "ceiling", "result");
        foreach (TargetCheck t in results.Targets)
            targets.Add(t.Target, $"{F(t.Measured, "0.###")} {t.Unit}", F(t.Threshold, "0.###"), t.Ceiling is { } c ? F(c, "0.###") : "",
                t.Skipped is not null ? $"SKIP ({t.Skipped})" : t.Pass ? "PASS" : "MISS");

        return [machine, matmul, scans, models, mixers, training, generation, decoding, speculative, targets];
    }
}
