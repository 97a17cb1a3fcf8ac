using MambaByte.Core.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops;

/// <summary>
/// Times a selective-scan implementation forward (with the autograd graph, as in training) and forward+backward at one shape, with
/// warm-up runs and repeats, and measures its memory:
/// <list type="bullet">
/// <item>RetainedForBackwardBytes: resident-set growth from just before the forward to just after it while the
/// result (and so the autograd graph with every tensor saved for backward) is alive, y included.</item>
/// <item>PeakForwardBackwardBytes: the kernel's peak resident set (VmHWM, reset through /proc/self/clear_refs)
/// during forward+backward, minus the resident set before it.</item>
/// <item>ManagedAllocatedBytes: .NET heap bytes allocated during one forward+backward.</item>
/// </list>
/// Before each measurement freed native heap is handed back to the OS (glibc malloc_trim) so that reused pages do
/// not hide allocations. libtorch's CPU allocator does not cache, so resident memory follows what is allocated.
/// Linux only for the memory figures (0 elsewhere). Inputs are drawn as mamba_ssm's tests draw them, Δ-bias,
/// softplus and z on (the model's configuration).
/// </summary>
public static class ScanBenchmark
{
    public static ScanBenchmarkResult Measure(
        SelectiveScanKind kind, long batch, long length, long channels, long states,
        ScalarType dtype = ScalarType.Float32, int warmup = 1, int repeats = 5, CancellationToken cancellationToken = default)
    {
        if (repeats < 1) throw new ArgumentException($"scan benchmark: repeats must be at least 1, got {repeats}");
        using var scope = NewDisposeScope();
        var gen = new Generator(42);
        Tensor Draw(long[] shape, double scale, double shift, bool normal) =>
            ((normal ? randn(shape, dtype: dtype, generator: gen) : rand(shape, dtype: dtype, generator: gen)) * scale + shift).requires_grad_();
        Tensor u = Draw([batch, channels, length], 1, 0, true), delta = Draw([batch, channels, length], 0.5, -2, false);
        Tensor A = Draw([channels, states], -0.5, 0, false), B = Draw([batch, states, length], 1, 0, true), C = Draw([batch, states, length], 1, 0, true);
        Tensor D = Draw([channels], 1, 0, true), z = Draw([batch, channels, length], 1, 0, true), bias = Draw([channels], 0.5, 0, false);
        Tensor gy = randn([batch, channels, length], dtype: dtype, generator: gen);
        Tensor[] leaves = [u, delta, A, B, C, D, z, bias];

        ScanResult Scan() => SelectiveScan.Run(kind, u, delta, A, B, C, D, z, bias, deltaSoftplus: true);
        // The forward as training runs it: graph built (FusedCpu keeps its checkpoints), then dropped unused.
        void ForwardOnly()
        {
            using var step = NewDisposeScope();
            Scan();
        }
        void ForwardBackward()
        {
            using var step = NewDisposeScope();
            foreach (Tensor leaf in leaves) leaf.grad?.zero_();
            (Scan().Y * gy).sum().backward();
        }

        var forward = Time(ForwardOnly, warmup, repeats, cancellationToken);
        var both = Time(ForwardBackward, warmup, repeats, cancellationToken);

        // Memory, once, after the timing runs so that one-time setup (JIT, thread pool) is not counted.
        long retained, peak, managed;
        using (var step = NewDisposeScope())
        {
            foreach (Tensor leaf in leaves) leaf.grad?.zero_();
            long before = SettledResidentBytes();
            ResetPeakResident();
            long managedBefore = GC.GetAllocatedBytesForCurrentThread();
            ScanResult r = Scan();
            retained = ResidentBytes() - before;
            (r.Y * gy).sum().backward();
            peak = PeakResidentBytes() - before;
            managed = GC.GetAllocatedBytesForCurrentThread() - managedBefore;
        }

        string name = dtype == ScalarType.Float64 ? "float64" : "float32";
        return new ScanBenchmarkResult(kind, batch, length, channels, states, name, repeats,
            forward.Median, forward.Min, forward.Max, both.Median, both.Min, both.Max, retained, peak, managed);
    }

    /// <summary>One line per result plus the speed-ups of every kind over the first (the baseline), for logs and the README.</summary>
    public static string Format(IReadOnlyList<ScanBenchmarkResult> results)
    {
        var lines = new List<string>();
        ScanBenchmarkResult? baseline = results.Count > 0 ? results[0] : null;
        foreach (ScanBenchmarkResult r in results)
        {
            string speedup = baseline is null || ReferenceEquals(r, baseline) ? "baseline"
                : $"forward {baseline.ForwardMedianMs / r.ForwardMedianMs:F1}x, forward+backward {baseline.ForwardBackwardMedianMs / r.ForwardBackwardMedianMs:F1}x vs {baseline.Kind}";
            lines.Add($"{r.Kind,-9} b={r.Batch} l={r.Length} d={r.Channels} n={r.States} {r.DType}: " +
                      $"forward {r.ForwardMedianMs:F1} ms [{r.ForwardMinMs:F1}..{r.ForwardMaxMs:F1}], " +
                      $"forward+backward {r.ForwardBackwardMedianMs:F1} ms [{r.ForwardBackwardMinMs:F1}..{r.ForwardBackwardMaxMs:F1}] (median [min..max] of {r.Repeats}); " +
                      $"kept for backward {Mb(r.RetainedForBackwardBytes)}, peak fwd+bwd {Mb(r.PeakForwardBackwardBytes)}, managed {Mb(r.ManagedAllocatedBytes)} " +
                      $"(one (b,d,l,n) tensor = {Mb(r.PerStepStateBytes)}); {speedup}");
        }
        return string.Join(Environment.NewLine, lines);
    }

    static string Mb(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";

    static (double Median, double Min, double Max) Time(Action run, int warmup, int repeats, CancellationToken ct)
    {
        Spread ms = Stopwatches.TimeMs(run, warmup, repeats, synchronize: () => { }, ct);
        return (ms.Median, ms.Min, ms.Max);
    }

    static long SettledResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (OperatingSystem.IsLinux()) malloc_trim(0);
        return ResidentBytes();
    }

    static long ResidentBytes() => StatusKilobytes("VmRSS:") * 1024;

    static long PeakResidentBytes() => StatusKilobytes("VmHWM:") * 1024;

    /// <summary>Writing 5 to /proc/self/clear_refs resets the peak resident set (VmHWM) to the current one.</summary>
    static void ResetPeakResident()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    static long StatusKilobytes(string field)
    {
        if (!OperatingSystem.IsLinux()) return 0;
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0]);
        }
        return 0;
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int malloc_trim(nuint pad);
}
