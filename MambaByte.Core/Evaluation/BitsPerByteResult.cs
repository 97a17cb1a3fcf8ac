namespace MambaByte.Core.Evaluation;

/// <summary>
/// Bits-per-byte over <see cref="BytesScored"/> predicted bytes: <see cref="TotalBits"/> = Σ −log2 p(x_t | x_&lt;t).
/// A document of n bytes contributes its n − 1 predictable bytes (the first byte has no context), or all n with the
/// document-level method, which predicts the first byte after a start byte.
/// </summary>
public sealed record BitsPerByteResult(double BitsPerByte, long BytesScored, double TotalBits, long Documents)
{
    public static BitsPerByteResult From(double totalBits, long bytesScored, long documents) =>
        new(bytesScored > 0 ? totalBits / bytesScored : double.NaN, bytesScored, totalBits, documents);
}
