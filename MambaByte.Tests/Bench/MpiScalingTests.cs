using System.Diagnostics;
using System.Text.Json;
using MambaByte.Tests.Support;
using MambaByte.Train;

namespace MambaByte.Tests.Bench;

public sealed class MpiScalingTests
{
    /// <summary>
    /// <c>bench --mpi-scaling</c> at a tiny size (seconds): it runs 1 and 2 ranks under mpiexec; the gradient bytes
    /// each rank sends are 4 × the parameter count (float32, every parameter once), and the efficiency is the 2-rank
    /// bytes/s over twice the 1-rank bytes/s recomputed from the rows.
    /// </summary>
    [Fact]
    public void Mpi_scaling_reports_both_rank_counts_the_gradient_bytes_and_the_efficiency()
    {
        using var temp = new TempDir();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Run(["bench", "--mpi-scaling", "--mpi-preset", "tiny", "--mpi-context", "32", "--mpi-steps", "2", "--json", temp.File("mpi.json")], output, error);
        Assert.True(code == 0, output + "\n" + error);

        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(temp.File("mpi.json")));
        JsonElement one = json.RootElement.GetProperty("one"), two = json.RootElement.GetProperty("two"), target = json.RootElement.GetProperty("target");
        Assert.Equal(1, one.GetProperty("Ranks").GetInt32());
        Assert.Equal(2, two.GetProperty("Ranks").GetInt32());
        Assert.Equal(8560, two.GetProperty("Parameters").GetInt64());                // the tiny preset's count (README table)
        Assert.Equal(4 * 8560, two.GetProperty("GradientBytes").GetInt64());
        Assert.Equal(0, one.GetProperty("GradientBytes").GetInt64());                // one rank: nothing to reduce
        double bytesOne = 32 / one.GetProperty("StepSeconds").GetDouble(), bytesTwo = 2 * 32 / two.GetProperty("StepSeconds").GetDouble();
        Assert.Equal(bytesTwo / (2 * bytesOne), target.GetProperty("Measured").GetDouble(), 9);
        Assert.Contains("| 2 | 8,560 | 32 |", output.ToString());
        Assert.Matches(@"target: MPI data-parallel scaling efficiency at 2 ranks \(tiny, context 32\) >= 85 %: [0-9.]+ % (PASS|MISS)", output.ToString());
    }

    /// <summary>
    /// Without mpiexec on PATH the scaling section is an environment problem, not a bug: one "mambabyte: error:" line that
    /// names mpiexec and the package, exit 1. Run in a child process whose PATH is one empty folder.
    /// </summary>
    [Fact]
    public async Task Mpi_scaling_without_mpiexec_on_the_path_is_one_clear_error_line_and_exit_1()
    {
        string dotnet = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet, [Path.Combine(AppContext.BaseDirectory, "mambabyte.dll"), "bench", "--mpi-scaling", "--mpi-preset", "tiny"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var temp = new TempDir();
        start.Environment["PATH"] = temp.Path;                                         // an empty folder: no mpiexec
        using Process process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Task<string> stdoutTask = process.StandardOutput.ReadToEndAsync(timeout.Token);
        string stderr = await process.StandardError.ReadToEndAsync(timeout.Token);
        string stdout = await stdoutTask;
        await process.WaitForExitAsync(timeout.Token);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(process.ExitCode == 1, $"exit {process.ExitCode}: {stderr}{stdout}");
        Assert.Single(lines);
        Assert.Matches("^mambabyte: error: .*mpiexec is not on PATH.*apt-get install mpich", lines[0]);
    }
}
