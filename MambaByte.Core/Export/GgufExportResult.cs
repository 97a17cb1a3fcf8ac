using MambaByte.Core.Models;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Core.Export;

/// <summary>What <see cref="GgufMambaExporter.Export"/> wrote: the file, its size, the model and how many tensors of each type.</summary>
public sealed record GgufExportResult(string Path, long Bytes, GgufFileType FileType, MambaConfig Config, IReadOnlyDictionary<GgmlType, int> TensorTypes)
{
    public int TensorCount => TensorTypes.Values.Sum();
}
