namespace MambaByte.Core.Export;

/// <summary>
/// The ggml tensor types this toolkit writes and reads, with ggml's numbers (<c>enum ggml_type</c>): F32, F16 and
/// Q8_0 (blocks of 32 values: an fp16 scale d, then 32 int8 q; a value is q·d).
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q8_0 = 8,
}
