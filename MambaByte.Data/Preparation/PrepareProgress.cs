namespace MambaByte.Data;

/// <summary>Progress of a prepare: input bytes of the files read so far against their total, and what was written.</summary>
public sealed record PrepareProgress(long InputBytesDone, long InputBytesTotal, long BytesWritten, long Documents, string CurrentFile);
