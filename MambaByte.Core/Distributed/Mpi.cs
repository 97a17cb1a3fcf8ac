using System.Text;

namespace MambaByte.Core.Distributed;

/// <summary>
/// MPI_COMM_WORLD through an MPICH-ABI library (MPICH, Intel MPI, Cray MPICH, MVAPICH), reached by P/Invoke: init
/// and finalize, rank and size, in-place sum-allreduce and broadcast of float/double/int64 buffers, barrier, abort.
/// Loaded only when the process was started by an MPI launcher (<see cref="LaunchedByMpi"/>); a plain process never
/// touches the library. MPI's default error handler on MPI_COMM_WORLD is "errors are fatal", so a failed collective
/// (a peer that died) ends the job through the launcher rather than returning here.
/// </summary>
public sealed unsafe class Mpi : IDisposable
{
    /// <summary>The environment variables MPI launchers set in every rank (Hydra/PMI, Intel MPI, Open MPI).</summary>
    public static readonly string[] LauncherVariables = ["PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_SIZE"];

    readonly MpiNative native;
    bool finalized;

    Mpi(MpiNative native, int rank, int size, string version)
    {
        this.native = native;
        Rank = rank;
        Size = size;
        LibraryVersion = version;
    }

    public int Rank { get; }

    public int Size { get; }

    /// <summary>The first line of MPI_Get_library_version, e.g. "MPICH Version: 4.0.2".</summary>
    public string LibraryVersion { get; }

    public string LibraryPath => native.Path;

    public static bool LaunchedByMpi() =>
        LauncherVariables.Any(name => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)));

    /// <summary>
    /// Loads the library, checks its ABI and initialises MPI. Throws <see cref="MpiSetupException"/> with a
    /// one-line reason when the library is missing, speaks another ABI, or the launcher is not an MPICH-ABI one.
    /// </summary>
    public static Mpi Initialize()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE")))
            throw new MpiSetupException("MPI: launched by Open MPI's mpirun, but this build speaks the MPICH ABI (libmpi.so.12); launch with MPICH's mpiexec (or Intel MPI, Cray MPICH, MVAPICH)");
        MpiNative native = MpiNative.Load();
        string version = Version(native);
        if (version.Contains("Open MPI", StringComparison.OrdinalIgnoreCase))
            throw new MpiSetupException($"MPI: {native.Path} is Open MPI ({version}); its ABI differs from MPICH's. Point MAMBABYTE_MPI_LIBRARY at an MPICH-ABI libmpi.so.12");

        int initialized;
        Check(native, native.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            int provided;
            Check(native, native.InitThread(null, null, MpiNative.ThreadMultiple, &provided), "MPI_Init_thread");
        }
        // The handle values are the ABI: if the library reads them differently the type sizes come out wrong.
        foreach ((int type, int bytes, string name) in new[] { (MpiNative.Float, 4, "MPI_FLOAT"), (MpiNative.Double, 8, "MPI_DOUBLE"), (MpiNative.Int64, 8, "MPI_INT64_T") })
        {
            int size;
            if (native.TypeSize(type, &size) != MpiNative.Success || size != bytes)
                throw new MpiSetupException($"MPI: {native.Path} ({version}) does not have the MPICH ABI: {name} (0x{type:x8}) is not a {bytes}-byte type there");
        }
        int rank, worldSize;
        Check(native, native.CommRank(MpiNative.CommWorld, &rank), "MPI_Comm_rank");
        Check(native, native.CommSize(MpiNative.CommWorld, &worldSize), "MPI_Comm_size");
        if (int.TryParse(Environment.GetEnvironmentVariable("PMI_SIZE"), out int launched) && launched != worldSize)
            throw new MpiSetupException($"MPI: the launcher started {launched} ranks but {native.Path} sees a world of {worldSize}: the launcher and the library do not belong together");
        return new Mpi(native, rank, worldSize, version);
    }

    static string Version(MpiNative native)
    {
        var buffer = new byte[MpiNative.MaxLibraryVersionString + 1];
        int length;
        fixed (byte* p = buffer)
            Check(native, native.GetLibraryVersion(p, &length), "MPI_Get_library_version");
        string text = Encoding.ASCII.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length)).TrimEnd('\0');
        string first = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "unknown";
        return string.Join(' ', first.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }

    static void Check(MpiNative native, int code, string call)
    {
        if (code != MpiNative.Success) throw new InvalidOperationException($"MPI: {call} failed with error code {code} ({native.Path})");
    }

    public void AllreduceSum(Span<float> buffer) { fixed (float* p = buffer) AllreduceInPlace(p, buffer.Length, MpiNative.Float, MpiNative.Sum, 4); }

    public void AllreduceSum(Span<double> buffer) { fixed (double* p = buffer) AllreduceInPlace(p, buffer.Length, MpiNative.Double, MpiNative.Sum, 8); }

    public void AllreduceSum(Span<long> buffer) { fixed (long* p = buffer) AllreduceInPlace(p, buffer.Length, MpiNative.Int64, MpiNative.Sum, 8); }

    public void AllreduceMax(Span<long> buffer) { fixed (long* p = buffer) AllreduceInPlace(p, buffer.Length, MpiNative.Int64, MpiNative.Max, 8); }

    /// <summary>Sum-allreduce in place of <paramref name="count"/> elements at <paramref name="address"/> (float32 or float64).</summary>
    public void AllreduceSum(nint address, long count, bool float64) =>
        AllreduceInPlace((void*)address, count, float64 ? MpiNative.Double : MpiNative.Float, MpiNative.Sum, float64 ? 8 : 4);

    /// <summary>Broadcast in place from <paramref name="root"/> of <paramref name="bytes"/> raw bytes (any dtype).</summary>
    public void Broadcast(nint address, long bytes, int root = 0)
    {
        // Whole 8-byte words travel as MPI_INT64_T (a bit-exact copy); a tail of up to 7 bytes goes in one more word.
        byte* p = (byte*)address;
        long words = bytes / 8;
        for (long done = 0; done < words;)
        {
            int count = (int)Math.Min(int.MaxValue / 2, words - done);
            Check(native, native.Bcast(p + done * 8, count, MpiNative.Int64, root, MpiNative.CommWorld), "MPI_Bcast");
            done += count;
        }
        long tail = bytes - words * 8;
        if (tail > 0)
        {
            long word = 0;
            Buffer.MemoryCopy(p + words * 8, &word, 8, tail);
            Check(native, native.Bcast(&word, 1, MpiNative.Int64, root, MpiNative.CommWorld), "MPI_Bcast");
            Buffer.MemoryCopy(&word, p + words * 8, tail, tail);
        }
    }

    public void Barrier() => Check(native, native.Barrier(MpiNative.CommWorld), "MPI_Barrier");

    /// <summary>Ends every rank of the job (MPI_Abort on MPI_COMM_WORLD); does not return.</summary>
    public void Abort(int code)
    {
        native.Abort(MpiNative.CommWorld, code);
        Environment.Exit(code);
    }

    void AllreduceInPlace(void* buffer, long count, int type, int op, int elementBytes)
    {
        for (long done = 0; done < count;)
        {
            int chunk = (int)Math.Min(int.MaxValue / 2, count - done);
            Check(native, native.Allreduce((void*)MpiNative.InPlace, (byte*)buffer + done * elementBytes, chunk, type, op, MpiNative.CommWorld), "MPI_Allreduce");
            done += chunk;
        }
    }

    public void Dispose()
    {
        if (finalized) return;
        finalized = true;
        int already;
        if (native.Finalized(&already) == MpiNative.Success && already == 0) native.Finalize();
    }
}
