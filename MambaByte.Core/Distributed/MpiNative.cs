using System.Runtime.InteropServices;

namespace MambaByte.Core.Distributed;

/// <summary>
/// The few MPI entry points data-parallel training needs, bound at run time from an MPICH-ABI library
/// (<c>libmpi.so.12</c> / <c>libmpich.so.12</c>: MPICH, Intel MPI, Cray MPICH, MVAPICH). In that ABI every handle is a
/// plain <c>int</c>, so no C shim is needed. The constants below were checked against Debian 12's MPICH 4.0.2
/// <c>/usr/include/x86_64-linux-gnu/mpich/mpi.h</c> (and are fixed by the MPICH ABI compatibility initiative).
/// </summary>
internal sealed unsafe class MpiNative
{
    public const int Success = 0;                       // MPI_SUCCESS
    public const int CommWorld = 0x44000000;            // MPI_COMM_WORLD
    public const int Float = 0x4c00040a;                // MPI_FLOAT
    public const int Double = 0x4c00080b;               // MPI_DOUBLE
    public const int Int64 = 0x4c00083a;                // MPI_INT64_T
    public const int Sum = 0x58000003;                  // MPI_SUM
    public const int Max = 0x58000001;                  // MPI_MAX
    public const int ThreadSingle = 0;                  // MPI_THREAD_SINGLE
    public const int ThreadMultiple = 3;                // MPI_THREAD_MULTIPLE
    public const int MaxLibraryVersionString = 8192;    // MPI_MAX_LIBRARY_VERSION_STRING
    public static readonly nint InPlace = -1;           // MPI_IN_PLACE, (void *) -1

    /// <summary>Library names tried in order when MAMBABYTE_MPI_LIBRARY is not set.</summary>
    public static readonly string[] LibraryNames = ["libmpi.so.12", "libmpich.so.12"];

    public required string Path { get; init; }
    public required delegate* unmanaged<int*, int> Initialized { get; init; }
    public required delegate* unmanaged<int*, int> Finalized { get; init; }
    public required delegate* unmanaged<int*, byte***, int, int*, int> InitThread { get; init; }
    public required delegate* unmanaged<int> Finalize { get; init; }
    public required delegate* unmanaged<int, int*, int> CommRank { get; init; }
    public required delegate* unmanaged<int, int*, int> CommSize { get; init; }
    public required delegate* unmanaged<void*, void*, int, int, int, int, int> Allreduce { get; init; }
    public required delegate* unmanaged<void*, int, int, int, int, int> Bcast { get; init; }
    public required delegate* unmanaged<int, int> Barrier { get; init; }
    public required delegate* unmanaged<int, int, int> Abort { get; init; }
    public required delegate* unmanaged<byte*, int*, int> GetLibraryVersion { get; init; }
    public required delegate* unmanaged<int, int*, int> TypeSize { get; init; }

    /// <summary>The dynamic loader's own line (e.g. "cannot open shared object file"), not .NET's generic preamble.</summary>
    static string LoaderReason(string name, string message)
    {
        string? line = message.Split('\n', StringSplitOptions.TrimEntries)
            .FirstOrDefault(l => l.Contains(name, StringComparison.Ordinal) && !l.StartsWith("Unable to load", StringComparison.Ordinal));
        return line ?? $"{name}: not found";
    }

    /// <summary>Loads the library and its symbols; throws <see cref="MpiSetupException"/> with a one-line reason.</summary>
    public static MpiNative Load()
    {
        string? chosen = Environment.GetEnvironmentVariable("MAMBABYTE_MPI_LIBRARY");
        string[] names = string.IsNullOrEmpty(chosen) ? LibraryNames : [chosen];
        nint handle = 0;
        string? path = null;
        var reasons = new List<string>();
        foreach (string name in names)
        {
            if (NativeLibrary.TryLoad(name, out handle)) { path = name; break; }
            try { NativeLibrary.Free(NativeLibrary.Load(name)); }
            catch (DllNotFoundException e) { reasons.Add(LoaderReason(name, e.Message)); }
        }
        if (path is null)
            throw new MpiSetupException(
                $"MPI: launched under an MPI launcher but no MPICH-ABI library loads ({string.Join(" or ", names)}); install Debian's mpich (libmpich12) or set MAMBABYTE_MPI_LIBRARY to your MPI's libmpi.so.12 ({string.Join("; ", reasons)})");

        nint Symbol(string name) => NativeLibrary.TryGetExport(handle, name, out nint address)
            ? address
            : throw new MpiSetupException($"MPI: {path} has no {name}: not an MPI-3 library with the MPICH ABI");

        return new MpiNative
        {
            Path = path,
            Initialized = (delegate* unmanaged<int*, int>)Symbol("MPI_Initialized"),
            Finalized = (delegate* unmanaged<int*, int>)Symbol("MPI_Finalized"),
            InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Symbol("MPI_Init_thread"),
            Finalize = (delegate* unmanaged<int>)Symbol("MPI_Finalize"),
            CommRank = (delegate* unmanaged<int, int*, int>)Symbol("MPI_Comm_rank"),
            CommSize = (delegate* unmanaged<int, int*, int>)Symbol("MPI_Comm_size"),
            Allreduce = (delegate* unmanaged<void*, void*, int, int, int, int, int>)Symbol("MPI_Allreduce"),
            Bcast = (delegate* unmanaged<void*, int, int, int, int, int>)Symbol("MPI_Bcast"),
            Barrier = (delegate* unmanaged<int, int>)Symbol("MPI_Barrier"),
            Abort = (delegate* unmanaged<int, int, int>)Symbol("MPI_Abort"),
            GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)Symbol("MPI_Get_library_version"),
            TypeSize = (delegate* unmanaged<int, int*, int>)Symbol("MPI_Type_size"),
        };
    }
}
