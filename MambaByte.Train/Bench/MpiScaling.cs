using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Core.Ops;
using MambaByte.Train.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Train.Bench;

/// <summary>
/// <c>mambabyte bench --mpi-scaling</c>: data-parallel scaling on this machine. It starts <c>mpiexec -n 1</c> and
/// <c>mpiexec -n 2</c> of <c>mambabyte bench --mpi</c> (one torch thread per rank, Mamba at the given preset and
/// context, one window per rank per step), and reports bytes/s, the scaling efficiency
/// bytes/s(2) ÷ (2 × bytes/s(1)) and the allreduce time against the step time; target efficiency ≥ 85 %.
/// </summary>
public static class MpiScaling
{
    public const double TargetEfficiency = 0.85;
    const string Marker = "mpi-bench-row ";

    /// <summary>One rank's part (run under mpiexec by <see cref="Run"/>): rank 0 prints its row as one marked JSON line.</summary>
    public static int RunRank(string preset, int context, int steps, TextWriter output)
    {
        using DataParallel parallel = DataParallel.FromEnvironment();
        TorchRuntime.EnsureLoaded();
        set_num_threads(1);
        FusedMixer.Threads = 1;   // one thread per rank in all: the fused scan kernels would otherwise use every core
        var options = new TrainOptions { Arch = MambaConfig.ArchitectureName, Preset = preset, Context = context, BatchSize = 1, Ranks = parallel.Size };
        manual_seed(options.Seed);
        using ByteLanguageModel model = ModelBuilder.FromOptions(options);
        model.train();
        parallel.Broadcast(model);
        using AdamW optimizer = OptimizerSetup.Create(model, options);
        List<Parameter> parameters = model.parameters().ToList();
        using var generator = new Generator(1000 + (ulong)parallel.Rank);
        using Tensor window = randint(0, 256, [1, context + 1], dtype: int64, generator: generator);   // each rank its own bytes
        using Tensor input = window.narrow(1, 0, context), target = window.narrow(1, 1, context);

        const int warmup = 2;
        var stepTimes = new List<double>();
        var allreduceTimes = new List<double>();
        for (int step = 0; step < warmup + steps; step++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            double before = parallel.AllreduceSeconds;
            model.Loss(input, target).backward();
            parallel.AverageGradients(parameters);
            nn.utils.clip_grad_norm_(parameters, 1.0);
            optimizer.step();
            optimizer.zero_grad();
            if (step < warmup) continue;
            stepTimes.Add(clock.Elapsed.TotalSeconds);
            allreduceTimes.Add(parallel.AllreduceSeconds - before);
        }
        var row = new MpiScalingRow(parallel.Size, preset, context, model.ParameterCount, steps, Median(stepTimes), Median(allreduceTimes),
            parallel.GradientBytesPerStep, parallel.Describe());
        if (parallel.IsRoot) output.WriteLine(Marker + JsonSerializer.Serialize(row));
        return 0;
    }

    /// <summary>Runs 1 and 2 ranks (in that order, <paramref name="rounds"/> times, best row per rank count kept) and reports.</summary>
    public static (MpiScalingRow One, MpiScalingRow Two, TargetCheck Target) Run(string preset, int context, int steps, int rounds, Action<string> log)
    {
        var rows = new List<MpiScalingRow>();
        for (int round = 0; round < rounds; round++)
            foreach (int ranks in new[] { 1, 2 })
            {
                MpiScalingRow row = Spawn(ranks, preset, context, steps);
                log(string.Create(CultureInfo.InvariantCulture, $"mpi round {round + 1}, {ranks} rank(s): step {row.StepSeconds:F3} s, allreduce {row.AllreduceSeconds * 1e3:F1} ms, {row.BytesPerSecond:F0} bytes/s"));
                rows.Add(row);
            }
        MpiScalingRow one = rows.Where(r => r.Ranks == 1).MinBy(r => r.StepSeconds)!;
        MpiScalingRow two = rows.Where(r => r.Ranks == 2).MinBy(r => r.StepSeconds)!;
        double efficiency = two.BytesPerSecond / (2 * one.BytesPerSecond);
        var target = new TargetCheck($"MPI data-parallel scaling efficiency at 2 ranks ({preset}, context {context}) >= 85 %", efficiency, TargetEfficiency, "fraction", efficiency >= TargetEfficiency);
        return (one, two, target);
    }

    public static IEnumerable<string> Table(MpiScalingRow one, MpiScalingRow two, TargetCheck target)
    {
        yield return "| ranks | parameters | context | step (s) | allreduce per step (ms) | allreduce / step | gradient bytes per rank per step | bytes/s (all ranks) | efficiency |";
        yield return "|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
        foreach (MpiScalingRow row in new[] { one, two })
            yield return string.Create(CultureInfo.InvariantCulture,
                $"| {row.Ranks} | {row.Parameters:N0} | {row.Context} | {row.StepSeconds:F3} | {row.AllreduceSeconds * 1e3:F1} | {row.AllreduceSeconds / row.StepSeconds * 100:F2} % | {row.GradientBytes:N0} | {row.BytesPerSecond:F0} | {row.BytesPerSecond / (row.Ranks * one.BytesPerSecond) * 100:F1} % |");
        yield return string.Create(CultureInfo.InvariantCulture, $"target: {target.Target}: {target.Measured * 100:F1} % {(target.Pass ? "PASS" : "MISS")}");
    }

    static MpiScalingRow Spawn(int ranks, string preset, int context, int steps)
    {
        string mpiexec = FindMpiexec();
        var start = new ProcessStartInfo(mpiexec) { RedirectStandardOutput = true, RedirectStandardError = true };
        // The mambabyte app host when that is what runs, else `dotnet mambabyte.dll` (dotnet run, a test host).
        bool appHost = Path.GetFileName(Environment.ProcessPath) == "mambabyte";
        foreach (string a in new[] { "-n", ranks.ToString(CultureInfo.InvariantCulture), appHost ? Environment.ProcessPath! : "dotnet" }) start.ArgumentList.Add(a);
        if (!appHost) start.ArgumentList.Add(typeof(MpiScaling).Assembly.Location);
        foreach (string a in new[] { "bench", "--mpi", "--mpi-preset", preset, "--mpi-context", context.ToString(CultureInfo.InvariantCulture), "--mpi-steps", steps.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{mpiexec}: could not start");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string? line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith(Marker, StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
            throw new InvalidOperationException($"mpiexec -n {ranks} mambabyte bench --mpi failed (exit {process.ExitCode}): {(stderr.Result + stdout).ReplaceLineEndings(" ").Trim()}");
        return JsonSerializer.Deserialize<MpiScalingRow>(line[Marker.Length..])!;
    }

    static string FindMpiexec()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, "mpiexec"))) return Path.Combine(dir, "mpiexec");
        throw new UserInputException("bench --mpi-scaling: mpiexec is not on PATH; install MPICH (Debian: apt-get install mpich)");
    }

    static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
