using System.CommandLine;
using System.Text.Json;
using MambaByte.Core.Native;
using MambaByte.Train.Bench;
using static TorchSharp.torch;

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
        var json = new Option<string?>("--json") { Description = "also write every figure to this JSON file" };
        var device = new Option<string>("--device") { Description = DeviceOption.Help, DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "torch intra-op threads (0: libtorch's default)", DefaultValueFactory = _ => 0 };
        var command = new Command("bench", "Measure matmul GFLOP/s, selective scans, training bytes/s and MFU, and generation latency; check the targets")
        {
            quick, json, device, threads,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
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

    static void WriteJson(string path, BenchResults results)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, path, overwrite: true);
    }
}
