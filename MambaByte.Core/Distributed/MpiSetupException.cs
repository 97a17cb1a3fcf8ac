namespace MambaByte.Core.Distributed;

/// <summary>
/// The MPI environment cannot run the job: no library, a library without the MPICH ABI, or a launcher and library
/// that do not belong together. The machine's set-up, not a bug: the CLI reports it as one line and exits 1.
/// </summary>
public sealed class MpiSetupException(string message) : Exception(message);
