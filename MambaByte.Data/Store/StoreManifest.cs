using System.Text.Json;
using System.Text.Json.Serialization;

namespace MambaByte.Data;

/// <summary>
/// The content of a prepared store's <c>manifest.json</c>. It holds no timestamps and no output path, so preparing
/// the same inputs twice writes the same bytes.
/// </summary>
public sealed record StoreManifest(
    int FormatVersion,
    string ToolVersion,
    IReadOnlyList<StoreSourceInfo> Sources,
    SplitRule SplitRule,
    int? Separator,
    IReadOnlyList<StoreSplitInfo> Splits,
    long TotalBytes,
    long TotalDocuments,
    long SkippedEmptyDocuments,
    string ContentHash)
{
    public const int CurrentFormatVersion = 1;
    public const string FileName = "manifest.json";

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions) + "\n";

    public static StoreManifest Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<StoreManifest>(File.ReadAllText(path), JsonOptions)
                ?? throw new InvalidDataException($"{path}: the manifest is empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid store manifest ({e.Message})", e);
        }
    }
}
