using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using MambaByte.Core.Checkpoints;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using static TorchSharp.torch;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

/// <summary>
/// <c>mpiexec -n 2 mambabyte train</c> as child processes (MPICH's Hydra launcher; CI installs Debian's mpich). A
/// missing mpiexec fails these tests with a message rather than skipping them.
/// </summary>
public sealed class MpiTrainingTests
{
    static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "mambabyte.dll");

    static readonly string[] Common =
    [
        "--data", "kjv", "--preset", "tiny", "--context", "16", "--log-every", "1", "--eval-every", "0",
        "--tensorboard", "false", "--device", "cpu", "--warmup-steps", "2", "--lr", "5e-3",
    ];

    /// <summary>
    /// Two ranks of 4 windows each take the same steps as one process with 8: same global batch, gradients averaged
    /// before clipping. float32: the per-rank means are summed in another order than the one-process mean, so losses
    /// agree to 1e-5 nats and weights to 1e-5 after 5 AdamW steps (measured: losses within 7e-7; weights within 1.2e-7
    /// for Mamba and 1.2e-6 for the Transformer).
    /// </summary>
    [Theory]
    [InlineData("mamba")]
    [InlineData("transformer")]
    public void Two_ranks_of_batch_4_match_one_process_of_batch_8(string arch)
    {
        using var temp = new TempDir();
        string[] steps = ["--arch", arch, "--max-steps", "5", "--checkpoint-every", "0"];
        Result two = Train(2, [.. steps, "--batch-size", "4", "--out", temp.File("two")]);
        Result one = Train(1, [.. steps, "--batch-size", "8", "--out", temp.File("one")]);
        Assert.True(two.ExitCode == 0, two.Describe());
        Assert.True(one.ExitCode == 0, one.Describe());

        // Rank 0 alone prints and writes metrics.
        Assert.Equal(1, Lines(two.Stdout).Count(l => l.StartsWith("step 1/5 ", StringComparison.Ordinal)));
        List<MetricsRow> twoRows = MetricsLog.Read(Path.Combine(temp.File("two"), "metrics.csv")).Where(r => r.Kind == "train").ToList();
        List<MetricsRow> oneRows = MetricsLog.Read(Path.Combine(temp.File("one"), "metrics.csv")).Where(r => r.Kind == "train").ToList();
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (long)i), twoRows.Select(r => r.Step));
        Assert.Equal(oneRows.Select(r => r.Bytes), twoRows.Select(r => r.Bytes));   // bytes count the global batch
        for (int i = 0; i < 5; i++) Assert.True(Math.Abs(oneRows[i].Loss - twoRows[i].Loss) < 1e-5, $"step {i + 1}: {oneRows[i].Loss} vs {twoRows[i].Loss}");
        // The losses moved: the comparison is not between two untouched initialisations.
        Assert.True(Math.Abs(oneRows[^1].Loss - oneRows[0].Loss) > 1e-3);

        Dictionary<string, Tensor> a = Safetensors.Read(Path.Combine(RunDirectory.Resolve(temp.File("two")), "model.safetensors"));
        Dictionary<string, Tensor> b = Safetensors.Read(Path.Combine(RunDirectory.Resolve(temp.File("one")), "model.safetensors"));
        try
        {
            Assert.Equal(b.Keys.Order(), a.Keys.Order());
            foreach ((string name, Tensor weight) in b)
            {
                double difference = (a[name] - weight).abs().max().item<float>();
                Assert.True(difference < 1e-5, $"{arch} {name}: weights differ by {difference}");
            }
        }
        finally
        {
            foreach (Tensor t in a.Values.Concat(b.Values)) t.Dispose();
        }
    }

    [Fact]
    public void Resuming_a_two_rank_run_repeats_its_losses_exactly_and_another_rank_count_is_refused()
    {
        using var temp = new TempDir();
        string full = temp.File("full");
        Result uninterrupted = Train(2, ["--max-steps", "6", "--checkpoint-every", "3", "--batch-size", "2", "--out", full]);
        Assert.True(uninterrupted.ExitCode == 0, uninterrupted.Describe());

        string resumed = temp.File("resumed");
        Result again = Train(2, ["--resume", Path.Combine(full, "checkpoints", "step-3"), "--out", resumed]);
        Assert.True(again.ExitCode == 0, again.Describe());
        string[] Rows(string run) => File.ReadAllLines(Path.Combine(run, "metrics.csv")).Where(l => l.StartsWith("train,", StringComparison.Ordinal))
            .Select(l => string.Join(',', l.Split(',')[..6])).ToArray();   // kind, step, bytes, loss, bits/byte, lr (not timings)
        Assert.Equal(6, Rows(full).Length);
        Assert.Equal(Rows(full), Rows(resumed));

        Result single = Train(1, ["--resume", Path.Combine(full, "checkpoints", "step-3"), "--out", temp.File("single")]);
        Assert.Equal(1, single.ExitCode);
        Assert.Contains("mambabyte: error: the checkpoint was trained on 2 rank(s) (mpiexec -n 2); resume it with the same number of ranks (got 1)", single.Stderr);
    }

    [Fact]
    public void Sigterm_to_one_rank_checkpoints_every_rank_at_the_same_step_and_exits_zero()
    {
        using var temp = new TempDir();
        string run = temp.File("run");
        using var job = Job.Start(2, ["train", .. Common, "--max-steps", "100000", "--checkpoint-every", "0", "--batch-size", "2", "--out", run]);
        job.WaitForLine("step 3/");
        Assert.Equal(0, kill(job.RankPid(1), 15));   // SIGTERM to rank 1 only
        Result result = job.Finish(TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains("SIGTERM: saving a checkpoint at the next step boundary", result.Stderr);
        Assert.Contains("interrupted at step ", result.Stdout);
        TrainerState state = RunDirectory.ReadState(RunDirectory.Resolve(run));
        Assert.True(state.Step >= 3);
        Assert.Equal(state.Step, MetricsLog.Read(Path.Combine(RunDirectory.Resolve(run), "metrics.csv")).Count(r => r.Kind == "train"));
    }

    [Fact]
    public void Killing_one_rank_ends_the_job_quickly_with_a_clear_message_and_an_intact_last_checkpoint()
    {
        using var temp = new TempDir();
        string run = temp.File("run");
        using var job = Job.Start(2, ["train", .. Common, "--max-steps", "100000", "--checkpoint-every", "2", "--batch-size", "2", "--out", run]);
        job.WaitForLine("step 5/");
        var clock = Stopwatch.StartNew();
        Process.GetProcessById(job.RankPid(1)).Kill();   // SIGKILL: no chance to say goodbye
        Result result = job.Finish(TimeSpan.FromSeconds(60));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the job took {clock.Elapsed} to end");

        Assert.True(result.ExitCode != 0, result.Describe());
        // Hydra's report: the block naming the first process it saw end badly, with its exit code. Not the exit string
        // under it: that is strsignal of the bitwise OR of every rank's wait status, so it reads "Killed (signal 9)"
        // only when the proxy killed rank 0 inside its collective; when rank 0 noticed the broken connection first and
        // ended through MPICH's fatal-error path (abort: 9 | 6 = 15), it reads "Terminated (signal 15)". Which one
        // happens is a race; a CI machine once saw the second.
        string all = result.Stdout + result.Stderr;
        Assert.True(all.Contains("BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES", StringComparison.Ordinal), result.Describe());
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(all, @"EXIT CODE: \d+"), result.Describe());
        string checkpoint = RunDirectory.Resolve(run);
        TrainerState state = RunDirectory.ReadState(checkpoint);
        Assert.True(state.Step >= 2 && state.Step % 2 == 0, $"checkpoint at step {state.Step}");
        using var model = ModelCheckpoint.Load(checkpoint, CPU);
        Assert.Equal(8560, model.ParameterCount);
    }

    [Fact]
    public void A_rank_that_hangs_makes_the_others_abort_the_job_after_the_collective_timeout()
    {
        using var temp = new TempDir();
        using var job = Job.Start(2, ["train", .. Common, "--max-steps", "100000", "--checkpoint-every", "0", "--batch-size", "2", "--out", temp.File("run")],
            new Dictionary<string, string> { ["MAMBABYTE_MPI_TIMEOUT"] = "20" });
        job.WaitForLine("step 3/");
        int stopped = job.RankPid(1);
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, kill(stopped, 19));   // SIGSTOP: alive but silent, which the launcher cannot see
        Result result = job.Finish(TimeSpan.FromSeconds(120));

        Assert.InRange(clock.Elapsed.TotalSeconds, 19, 120);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("mambabyte: error: rank 0 of 2: no answer from the other ranks for 20 s in the ", result.Stderr);
        Assert.Contains("aborting all ranks", result.Stderr);
    }

    /// <summary>
    /// <c>mpiexec -n 2 mambabyte compare</c> trains each architecture data-parallel: the FLOPs budget buys the same
    /// steps of the same global batch as one process with twice the batch, the losses agree to float32 summation
    /// order, and rank 0 alone writes the report.
    /// </summary>
    [Fact]
    public void Compare_under_two_ranks_trains_like_one_process_with_the_global_batch()
    {
        using var temp = new TempDir();
        string[] Args(string batch, string dir) =>
        [
            "compare", "--data", "kjv", "--archs", "mamba", "--match", "params", "--size", "1", "--budget-flops", "1.5e8",
            "--context", "32", "--batch", batch, "--seed", "5", "--device", "cpu", "--out", temp.File(dir), "--evaluations", "2",
            "--eval-bytes", "256", "--test-bytes", "512", "--gen-positions", "8", "--gen-bytes", "2",
        ];
        Result two, one;
        using (var job = Job.Start(2, Args("2", "two"))) two = job.Finish(TimeSpan.FromMinutes(5));
        using (var job = Job.Start(1, Args("4", "one"))) one = job.Finish(TimeSpan.FromMinutes(5));
        Assert.True(two.ExitCode == 0, two.Describe());
        Assert.True(one.ExitCode == 0, one.Describe());
        Assert.Equal(1, Lines(two.Stdout).Count(l => l.StartsWith("report ", StringComparison.Ordinal)));
        Assert.True(File.Exists(Path.Combine(temp.File("two"), "report.md")));

        List<MetricsRow> Rows(string dir) => MetricsLog.Read(Path.Combine(temp.File(dir), "runs", "mamba", "metrics.csv")).Where(r => r.Kind == "train").ToList();
        List<MetricsRow> a = Rows("two"), b = Rows("one");
        Assert.True(a.Count >= 2);
        Assert.Equal(b.Select(r => (r.Step, r.Bytes)), a.Select(r => (r.Step, r.Bytes)));
        for (int i = 0; i < a.Count; i++) Assert.True(Math.Abs(a[i].Loss - b[i].Loss) < 1e-5, $"row {i}: {a[i].Loss} vs {b[i].Loss}");
    }

    /// <summary>
    /// The library check at start-up, with a launch simulated by PMI_RANK/PMI_SIZE (what Hydra sets): a missing
    /// library and a library without the MPI symbols each end with one line naming it and exit 1; without the
    /// launcher's variables MPI is never loaded, so the same bogus setting trains as before.
    /// </summary>
    [Theory]
    [InlineData("libmambabyte-no-such-mpi.so.12", true, "mambabyte: error: MPI: launched under an MPI launcher but no MPICH-ABI library loads (libmambabyte-no-such-mpi.so.12)")]
    [InlineData("libc.so.6", true, "mambabyte: error: MPI: libc.so.6 has no MPI_Initialized: not an MPI-3 library with the MPICH ABI")]
    [InlineData("libmambabyte-no-such-mpi.so.12", false, null)]
    public void A_missing_or_foreign_MPI_library_is_one_clear_error_and_a_plain_process_never_loads_it(string library, bool launched, string? message)
    {
        using var temp = new TempDir();
        var environment = new Dictionary<string, string> { ["MAMBABYTE_MPI_LIBRARY"] = library };
        if (launched)
        {
            environment["PMI_RANK"] = "0";
            environment["PMI_SIZE"] = "1";
        }
        using var job = Job.Start(1, ["train", .. Common, "--max-steps", "1", "--batch-size", "1", "--out", temp.File("run")], environment);
        Result result = job.Finish(TimeSpan.FromMinutes(2));
        if (message is null)
        {
            Assert.True(result.ExitCode == 0, result.Describe());
            return;
        }
        Assert.Equal(1, result.ExitCode);
        string[] errors = Lines(result.Stderr).Where(l => l.Length > 0).ToArray();
        Assert.Single(errors);
        Assert.StartsWith(message, errors[0]);
        Assert.False(Directory.Exists(temp.File("run")));   // nothing was started
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    static IEnumerable<string> Lines(string text) => text.Split('\n', StringSplitOptions.TrimEntries);

    static Result Train(int ranks, string[] args)
    {
        using var job = Job.Start(ranks, ["train", .. Common, .. args]);
        return job.Finish(TimeSpan.FromMinutes(5));
    }

    sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Describe() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    /// <summary>One <c>mpiexec -n N dotnet mambabyte.dll train …</c> (or a plain process for N = 1), tagged so its ranks can be found.</summary>
    sealed class Job : IDisposable
    {
        readonly Process process;
        readonly StringBuilder stdout = new();
        readonly Task<string> stderr;
        readonly string tag = Guid.NewGuid().ToString("N");

        Job(int ranks, string[] args, Dictionary<string, string>? environment)
        {
            var start = new ProcessStartInfo(ranks == 1 ? "dotnet" : Mpiexec())
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            if (ranks > 1) foreach (string a in new[] { "-n", ranks.ToString() }) start.ArgumentList.Add(a);
            if (ranks > 1) start.ArgumentList.Add("dotnet");
            start.ArgumentList.Add(Dll);
            foreach (string a in args) start.ArgumentList.Add(a);
            start.Environment["OMP_NUM_THREADS"] = "1";
            start.Environment["MAMBABYTE_TEST_TAG"] = tag;
            foreach ((string name, string value) in environment ?? []) start.Environment[name] = value;
            process = Process.Start(start)!;
            stderr = process.StandardError.ReadToEndAsync();
        }

        public static Job Start(int ranks, string[] args, Dictionary<string, string>? environment = null) => new(ranks, args, environment);

        static string Mpiexec()
        {
            foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
                if (File.Exists(Path.Combine(dir, "mpiexec"))) return Path.Combine(dir, "mpiexec");
            Assert.Fail("mpiexec is not on PATH: install MPICH (Debian: apt-get install mpich); .ci/run installs it");
            return "";
        }

        public void WaitForLine(string prefix)
        {
            string? line;
            while ((line = process.StandardOutput.ReadLine()) is not null)
            {
                stdout.AppendLine(line);
                if (line.StartsWith(prefix, StringComparison.Ordinal)) return;
            }
            Assert.Fail($"the job ended before printing '{prefix}':\n{stdout}\n{stderr.Result}");
        }

        /// <summary>The pid of a rank: the process whose environment holds this job's tag and PMI_RANK.</summary>
        public int RankPid(int rank)
        {
            byte[] wanted = Encoding.ASCII.GetBytes($"MAMBABYTE_TEST_TAG={tag}"), rankVariable = Encoding.ASCII.GetBytes($"PMI_RANK={rank}");
            foreach (string dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
                byte[] environment;
                try { environment = File.ReadAllBytes(Path.Combine(dir, "environ")); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                var variables = environment.AsSpan();
                bool hasTag = false, hasRank = false;
                foreach (Range range in variables.Split((byte)0))
                {
                    hasTag |= variables[range].SequenceEqual(wanted);
                    hasRank |= variables[range].SequenceEqual(rankVariable);
                }
                if (hasTag && hasRank && File.ReadAllText(Path.Combine(dir, "comm")).Trim() == "dotnet") return pid;
            }
            Assert.Fail($"no process of rank {rank} found");
            return 0;
        }

        public Result Finish(TimeSpan limit)
        {
            Task<string> rest = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(limit))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"the job did not end within {limit}:\n{stdout}{(rest.Wait(5000) ? rest.Result : "")}");
            }
            process.WaitForExit();
            return new Result(process.ExitCode, stdout + rest.Result, stderr.Result);
        }

        public void Dispose()
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.Dispose();
        }
    }
}
