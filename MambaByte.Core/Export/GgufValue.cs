using System.Globalization;

namespace MambaByte.Core.Export;

/// <summary>
/// One GGUF metadata value: its type and a boxed .NET value (byte, sbyte, ushort, short, uint, int, float, bool,
/// string, ulong, long, double), or for <see cref="GgufValueType.Array"/> the element type and the elements.
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    public static GgufValue String(string value) => new(GgufValueType.String, value);

    public static GgufValue UInt32(uint value) => new(GgufValueType.UInt32, value);

    public static GgufValue Float32(float value) => new(GgufValueType.Float32, value);

    public static GgufValue Bool(bool value) => new(GgufValueType.Bool, value);

    public static GgufValue Array(GgufValueType elementType, IReadOnlyList<object> elements) =>
        elementType == GgufValueType.Array
            ? throw new ArgumentException("GGUF: arrays of arrays are not supported here")
            : new(GgufValueType.Array, elements, elementType);

    public static GgufValue StringArray(IEnumerable<string> elements) => Array(GgufValueType.String, elements.Cast<object>().ToList());

    /// <summary>The elements of an array value.</summary>
    public IReadOnlyList<object> Elements => Type == GgufValueType.Array
        ? (IReadOnlyList<object>)Value
        : throw new InvalidOperationException($"GGUF value of type {Type} is not an array");

    public override string ToString() => Type == GgufValueType.Array
        ? $"{ElementType}[{Elements.Count}]"
        : Convert.ToString(Value, CultureInfo.InvariantCulture) ?? "";
}
