using System.CommandLine;
using System.Text.Json;
using MambaByte.Core.Native;
using MambaByte.Train.Bench;
using static TorchSharp.torch;
using MambaByte.Core.Files;

namespace MambaByte.Train.Commands;

/// <summary>
/// <c>mambabyte bench</c>: matmul GFLOP/s, the three selective scans, training bytes/s and MFU and generation
/// latency per architecture at equal parameters, all in one process, then the targets as PASS/MISS.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "every section at small sizes (seconds instead of minutes)" };
        var speculativeTarget = new Option<string?>("--speculative-target") { Description = "trained Mamba checkpoint for the speculative decoding rows (with --speculative-draft; without both, untrained shapes and no verdict)" };
        var speculativeDraft = new Option<string?>("--speculative-draft") { Description = "trained draft checkpoint for the speculative decoding rows (about a tenth of the target's parameters)" };
        var json = new Option<string?>("--json") { Description = "also write every figure to this JSON file" };
        var device = CommonOptions.Device("cpu");
        var threads = new Option<int>("--threads") { Description = "torch intra-op threads (0: libtorch's default)", DefaultValueFactory = _ => 0 };
        var mpi = new Option<bool>("--mpi") { Description = "one rank of a data-parallel training measurement (run under mpiexec; --mpi-scaling starts it)" };
        var mpiScaling = new Option<bool>("--mpi-scaling") { Description = "only the MPI scaling section: mpiexec -n 1 and -n 2, bytes/s, efficiency, allreduce time" };
        var mpiPreset = new Option<string>("--mpi-preset") { Description = "Mamba preset of the MPI scaling section", DefaultValueFactory = _ => "medium" };
        var mpiContext = new Option<int>("--mpi-context") { Description = "window length of the MPI scaling section", DefaultValueFactory = _ => 1024 };
        var mpiSteps = new Option<int>("--mpi-steps") { Description = "timed steps per MPI run (after 2 warm-up steps)", DefaultValueFactory = _ => 4 };
        var mpiRounds = new Option<int>("--mpi-rounds") { Description = "1-rank and 2-rank runs alternate this many times; the fastest of each is kept", DefaultValueFactory = _ => 1 };
        var command = new Command("bench", "Measure matmul GFLOP/s, selective scans, training bytes/s and MFU, and generation latency; check the targets")
        {
            quick, json, device, threads, mpi, mpiScaling, mpiPreset, mpiContext, mpiSteps, mpiRounds, speculativeTarget, speculativeDraft,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(mpi) || parse.GetValue(mpiScaling))
            {
                string preset = parse.GetValue(mpiPreset)!;
                int context = parse.GetValue(mpiContext), steps = parse.GetValue(mpiSteps), rounds = parse.GetValue(mpiRounds);
                if (context < 1 || steps < 1 || rounds < 1) throw new ArgumentException("--mpi-context, --mpi-steps and --mpi-rounds must be at least 1");
                if (parse.GetValue(mpi)) return Task.FromResult(MpiScaling.RunRank(preset, context, steps, output));
                (MpiScalingRow one, MpiScalingRow two, TargetCheck check) = MpiScaling.Run(preset, context, steps, rounds, line => { output.WriteLine(line); output.Flush(); });
                foreach (string line in MpiScaling.Table(one, two, check)) output.WriteLine(line);
                string? mpiJson = parse.GetValue(json);
                if (mpiJson is not null) File.WriteAllText(mpiJson, JsonSerializer.Serialize(new { one, two, target = check }, new JsonSerializerOptions { WriteIndented = true }));
                return Task.FromResult(0);
            }
            TorchRuntime.EnsureLoaded();
            int threadCount = parse.GetValue(threads);
            if (threadCount < 0) throw new ArgumentException($"--threads must be 0 or positive, got {threadCount}");
            if (threadCount > 0) set_num_threads(threadCount);
            Device target = DeviceOption.Parse(parse.GetValue(device)!);
            string? jsonPath = parse.GetValue(json);
            if (jsonPath is not null)
            {
                string? folder = Path.GetDirectoryName(Path.GetFullPath(jsonPath));
                if (folder is not null && !Directory.Exists(folder)) throw new DirectoryNotFoundException($"{jsonPath}: folder {folder} does not exist");
            }

            BenchPlan plan = parse.GetValue(quick) ? BenchPlan.Quick : BenchPlan.Full;
            (string? specTarget, string? specDraft) = (parse.GetValue(speculativeTarget), parse.GetValue(speculativeDraft));
            if ((specTarget is null) != (specDraft is null)) throw new UserInputException("--speculative-target and --speculative-draft: give both or neither");
            if (specTarget is not null) plan = plan with { SpeculativeCheckpoints = (specTarget, specDraft!) };
            bool interactive = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
            var runner = new BenchRunner(plan, target, line => { output.WriteLine(line); output.Flush(); });
            BenchResults results = runner.Run(cancellationToken);

            output.WriteLine();
            foreach (BenchTable table in BenchReport.Tables(results)) table.Write(output, interactive);
            if (jsonPath is not null) WriteJson(jsonPath, results);
            int passed = results.Targets.Count(t => t.Skipped is null && t.Pass), skipped = results.Targets.Count(t => t.Skipped is not null);
            output.WriteLine($"targets: {passed} PASS, {results.Targets.Count - passed - skipped} MISS, {skipped} SKIPPED");
            return Task.FromResult(0);
        });
        return command;
    }

    static void WriteJson(string path, BenchResults results) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
}
