using System.Text.Json;

namespace MambaByte.Data;

/// <summary>
/// <c>datasets/&lt;name&gt;/dataset.json</c>: what the corpus is, where it came from, under what licence, and the
/// exact files (with hashes) that <see cref="DatasetResolver"/> prepares, selected by <see cref="Glob"/>.
/// </summary>
public sealed record DatasetManifest(
    string Name,
    string Description,
    string Licence,
    string Source,
    string Glob,
    IReadOnlyList<double>? SplitFractions,
    IReadOnlyList<DatasetFile> Files)
{
    public const string FileName = "dataset.json";

    public static DatasetManifest Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<DatasetManifest>(File.ReadAllText(path), StoreManifest.JsonOptions)
                ?? throw new InvalidDataException($"{path}: the dataset manifest is empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid dataset manifest ({e.Message})", e);
        }
    }
}
