using System.Diagnostics;
using MambaByte.Core.Distributed;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Core.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Train.Training;

/// <summary>
/// Data parallelism over MPI for the trainer, as PyTorch DDP does it: rank 0's initial weights are broadcast, each
/// rank runs forward and backward on its slice of the global batch, and gradients are averaged with a sum-allreduce
/// (in flat buckets of <see cref="BucketBytes"/>) before clipping, so every rank takes the identical optimizer step.
/// <see cref="Single"/> (one process, no MPI) makes every call a no-op that returns its input.
/// </summary>
public sealed class DataParallel : IDisposable
{
    /// <summary>Gradient bucket size: large enough that per-call latency is amortised, small enough to stay in cache-sized copies.</summary>
    public const long BucketBytes = 4L << 20;

    /// <summary>Seconds a rank may wait inside one collective before it gives up on the others (0: forever).</summary>
    public const double DefaultTimeoutSeconds = 1800;

    readonly Mpi? mpi;
    readonly double timeoutSeconds;
    readonly Thread? watchdog;
    readonly CancellationTokenSource watchdogStop = new();
    long collectiveStarted;          // Stopwatch timestamp of the collective in progress, 0 when none
    string collectiveName = "";
    List<Bucket>? buckets;
    readonly long[] flag = new long[1];
    readonly double[] scalar = new double[1];

    DataParallel(Mpi? mpi)
    {
        this.mpi = mpi;
        if (mpi is null || mpi.Size < 2) return;
        string? setting = Environment.GetEnvironmentVariable("MAMBABYTE_MPI_TIMEOUT");
        timeoutSeconds = string.IsNullOrEmpty(setting) ? DefaultTimeoutSeconds
            : double.TryParse(setting, System.Globalization.CultureInfo.InvariantCulture, out double seconds) && seconds >= 0 ? seconds
            : throw new ArgumentException($"MAMBABYTE_MPI_TIMEOUT={setting}: expected seconds (0 = no timeout)");
        if (timeoutSeconds > 0)
        {
            watchdog = new Thread(Watch) { IsBackground = true, Name = "MPI collective watchdog" };
            watchdog.Start();
        }
    }

    /// <summary>
    /// A rank that hangs (stopped, deadlocked, a dead node whose launcher did not notice) leaves the others blocked
    /// in a collective: after <c>MAMBABYTE_MPI_TIMEOUT</c> seconds this says so and aborts the whole job.
    /// </summary>
    void Watch()
    {
        while (!watchdogStop.Token.WaitHandle.WaitOne(250))
        {
            long started = Interlocked.Read(ref collectiveStarted);
            if (started == 0 || Stopwatch.GetElapsedTime(started).TotalSeconds < timeoutSeconds) continue;
            Console.Error.WriteLine($"mambabyte: error: rank {Rank} of {Size}: no answer from the other ranks for {timeoutSeconds:0.#} s in {collectiveName} (MAMBABYTE_MPI_TIMEOUT); a rank hangs or died; aborting all ranks");
            Console.Error.Flush();
            mpi!.Abort(2);
        }
    }

    void Collective(string name, Action call)
    {
        collectiveName = name;
        Interlocked.Exchange(ref collectiveStarted, Stopwatch.GetTimestamp());
        try { call(); }
        finally { Interlocked.Exchange(ref collectiveStarted, 0); }
    }

    /// <summary>One process without an MPI launcher.</summary>
    public static DataParallel Single { get; } = new(null);

    /// <summary>MPI when the process was started by an MPI launcher (see <see cref="Mpi.LaunchedByMpi"/>), else <see cref="Single"/>.</summary>
    public static DataParallel FromEnvironment() => Mpi.LaunchedByMpi() ? new DataParallel(Mpi.Initialize()) : Single;

    public int Rank => mpi?.Rank ?? 0;

    public int Size => mpi?.Size ?? 1;

    public bool IsRoot => Rank == 0;

    public bool IsDistributed => mpi is not null && mpi.Size > 1;

    /// <summary>Wall time spent in <see cref="AverageGradients"/> (copies and allreduce) since the start.</summary>
    public double AllreduceSeconds { get; private set; }

    /// <summary>Gradient bytes each rank sends into the allreduce per step (set after the first step).</summary>
    public long GradientBytesPerStep { get; private set; }

    public string Describe() => mpi is null
        ? "one process"
        : $"data-parallel over {Size} rank{(Size == 1 ? "" : "s")} ({mpi.LibraryVersion}, {mpi.LibraryPath}); global batch = {Size} × --batch-size";

    /// <summary>Copies rank 0's parameters and buffers into every other rank's model, bit for bit.</summary>
    public void Broadcast(ByteLanguageModel model)
    {
        if (!IsDistributed) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach ((string _, Tensor tensor) in model.state_dict())
        {
            Tensor host = tensor.detach().cpu().contiguous();
            Collective("the weight broadcast", () => mpi!.Broadcast(Address(host), host.numel() * host.element_size()));
            tensor.copy_(host);
        }
    }

    /// <summary>Replaces every gradient by its mean over the ranks (sum-allreduce of flat buckets, then ÷ ranks).</summary>
    public void AverageGradients(IReadOnlyList<Parameter> parameters)
    {
        if (!IsDistributed) return;
        var clock = Stopwatch.StartNew();
        buckets ??= Bucket.Plan(parameters);
        foreach (Bucket bucket in buckets)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            long offset = 0;
            foreach (Parameter p in bucket.Parameters)
            {
                long n = p.numel();
                Tensor slot = bucket.Flat.narrow(0, offset, n);
                Tensor? g = p.grad;
                if (g is null) slot.zero_();
                else slot.copy_(g.reshape(-1));
                offset += n;
            }
            Collective("the gradient allreduce", () => mpi!.AllreduceSum(Address(bucket.Flat), bucket.Flat.numel(), bucket.Flat.dtype == float64));
            bucket.Flat.div_(Size);
            offset = 0;
            foreach (Parameter p in bucket.Parameters)
            {
                long n = p.numel();
                Tensor? g = p.grad;
                g?.copy_(bucket.Flat.narrow(0, offset, n).view_as(g));
                offset += n;
            }
        }
        GradientBytesPerStep = buckets.Sum(b => b.Flat.numel() * b.Flat.element_size());
        AllreduceSeconds += clock.Elapsed.TotalSeconds;
    }

    /// <summary>True on every rank when it is true on any: the ranks agree on stopping at the same step.</summary>
    public bool Any(bool local)
    {
        if (!IsDistributed) return local;
        flag[0] = local ? 1 : 0;
        Collective("the stop-flag allreduce", () => mpi!.AllreduceMax(flag));
        return flag[0] != 0;
    }

    /// <summary>The mean over the ranks of a per-rank number (e.g. the step's loss over each rank's slice).</summary>
    public double Average(double local)
    {
        if (!IsDistributed) return local;
        scalar[0] = local;
        Collective("the loss allreduce", () => mpi!.AllreduceSum(scalar));
        return scalar[0] / Size;
    }

    /// <summary>
    /// Ranks on one machine share its cores: each rank's libtorch threads (unless OMP_NUM_THREADS says otherwise) and
    /// fused-kernel threads become cores ÷ ranks on this node (MPI_LOCALNRANKS, set by Hydra), as torchrun does, so
    /// N ranks do not run N × cores threads. Returns what was set.
    /// </summary>
    public string ShareCores()
    {
        if (!IsDistributed) return "";
        int local = int.TryParse(Environment.GetEnvironmentVariable("MPI_LOCALNRANKS"), out int n) && n >= 1 ? n : 1;
        int threads = Math.Max(1, Environment.ProcessorCount / local);
        TorchRuntime.EnsureLoaded();
        FusedMixer.Threads = threads;
        bool ompGiven = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_NUM_THREADS"));
        if (!ompGiven) set_num_threads(threads);
        return $"{local} rank(s) on this node: {(ompGiven ? $"torch threads from OMP_NUM_THREADS ({get_num_threads()})" : $"{threads} torch thread(s)")} and {threads} fused-kernel thread(s) per rank";
    }

    /// <summary>
    /// Runs <paramref name="open"/> on rank 0 first and on the others after it (a barrier between): a shipped dataset
    /// is prepared into its cache once, by rank 0, instead of by every rank at the same time.
    /// </summary>
    public T RootFirst<T>(Func<T> open)
    {
        if (!IsDistributed) return open();
        T result = default!;
        if (IsRoot) result = open();
        Collective("the barrier after rank 0 opened the data", () => mpi!.Barrier());
        if (!IsRoot) result = open();
        return result;
    }

    /// <summary>
    /// Runs a command's work; under MPI an exception on this rank is printed as one line naming the rank and ends
    /// the whole job with MPI_Abort (the other ranks would otherwise wait forever in their next collective).
    /// </summary>
    public int RunOrAbort(Func<int> action, TextWriter error)
    {
        if (!IsDistributed) return action();
        try
        {
            return action();
        }
        catch (Exception e)
        {
            string kind = CommandLineErrors.IsUserError(e) ? "" : $"{e.GetType().Name}: ";
            error.WriteLine($"mambabyte: error: rank {Rank} of {Size}: {kind}{e.Message.ReplaceLineEndings(" ").Trim()}; aborting all ranks");
            if (Environment.GetEnvironmentVariable("MAMBABYTE_DEBUG") == "1") error.WriteLine(e);
            error.Flush();
            Abort(1);
            return 1;
        }
    }

    /// <summary>Ends the whole job with <paramref name="code"/> (MPI_Abort); in one process, just exits.</summary>
    public void Abort(int code)
    {
        if (mpi is null) Environment.Exit(code);
        mpi.Abort(code);
    }

    static unsafe nint Address(Tensor t)
    {
        if (t.device_type != DeviceType.CPU || !t.is_contiguous()) throw new InvalidOperationException("bug: MPI buffers must be contiguous CPU tensors");
        if (t.numel() == 0) return 0;
        fixed (byte* first = t.bytes) return (nint)first;
    }

    public void Dispose()
    {
        watchdogStop.Cancel();
        watchdog?.Join();
        if (buckets is not null)
            foreach (Bucket bucket in buckets) bucket.Flat.Dispose();
        buckets = null;
        mpi?.Dispose();
    }

    /// <summary>Parameters whose gradients travel in one flat buffer, in reverse registration order (about the order backward finishes them).</summary>
    sealed record Bucket(List<Parameter> Parameters, Tensor Flat)
    {
        public static List<Bucket> Plan(IReadOnlyList<Parameter> parameters)
        {
            var result = new List<Bucket>();
            foreach (IGrouping<ScalarType, Parameter> group in parameters.Reverse().GroupBy(p => p.dtype))
            {
                if (group.Key is not (ScalarType.Float32 or ScalarType.Float64))
                    throw new NotSupportedException($"data-parallel training averages float32 or float64 gradients; a parameter is {group.Key}");
                if (group.First().device_type != DeviceType.CPU)
                    throw new NotSupportedException("data-parallel training over MPI runs on the CPU (the gradient buffers are host memory)");
                var members = new List<Parameter>();
                long elements = 0, elementBytes = group.Key == ScalarType.Float64 ? 8 : 4;
                foreach (Parameter p in group)
                {
                    if (members.Count > 0 && (elements + p.numel()) * elementBytes > BucketBytes)
                    {
                        result.Add(new Bucket(members, zeros(elements, dtype: group.Key).DetachFromDisposeScope()));
                        members = [];
                        elements = 0;
                    }
                    members.Add(p);
                    elements += p.numel();
                }
                if (members.Count > 0) result.Add(new Bucket(members, zeros(elements, dtype: group.Key).DetachFromDisposeScope()));
            }
            return result;
        }
    }
}
