namespace MambaByte.Data;

/// <summary>One split of a store: <c>{Name}.bin</c> holds <see cref="Bytes"/> bytes, <c>{Name}.idx</c> the document spans.</summary>
public sealed record StoreSplitInfo(string Name, long Bytes, int Documents, string Sha256);
