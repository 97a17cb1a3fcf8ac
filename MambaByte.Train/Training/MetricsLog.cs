using System.Globalization;
using CsvHelper;
using MambaByte.Core.Files;

namespace MambaByte.Train.Training;

/// <summary>
/// metrics.csv, written with CsvHelper: one row per logged step and per evaluation, flushed as written so a
/// crashed run keeps its rows. Numbers use the round-trip format, so equal losses compare equal as text.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public static readonly string[] Columns = ["kind", "step", "bytes", "loss", "bits_per_byte", "lr", "bytes_per_s", "mfu", "elapsed_s", "split"];

    readonly StreamWriter stream;
    readonly CsvWriter csv;

    public MetricsLog(string path)
    {
        bool fresh = !File.Exists(path) || new FileInfo(path).Length == 0;
        stream = new StreamWriter(path, append: true);
        csv = CsvWriter.Create(stream, null, leaveOpen: true);
        if (fresh)
        {
            csv.WriteHeader(Columns);
            csv.Flush();
            stream.Flush();
        }
    }

    public void Write(MetricsRow row)
    {
        csv.WriteRecord(
        [
            row.Kind, Format(row.Step), Format(row.Bytes), Format(row.Loss), Format(row.BitsPerByte), Format(row.Lr),
            Format(row.BytesPerSecond), Format(row.Mfu), Format(row.ElapsedSeconds), row.Split,
        ]);
        csv.Flush();
        stream.Flush();
    }

    /// <summary>Keeps the header and the rows up to <paramref name="step"/> (used when a run resumes from a checkpoint).</summary>
    public static void TruncateAfter(string path, long step)
    {
        if (!File.Exists(path)) return;
        var rows = Read(path).Where(r => r.Step <= step).ToList();
        AtomicFile.Publish(path, temporary =>
        {
            using var log = new MetricsLog(temporary);
            foreach (MetricsRow row in rows) log.Write(row);
        });
    }

    public static List<MetricsRow> Read(string path)
    {
        var rows = new List<MetricsRow>();
        using var reader = CsvReader.FromFile(path, new CsvReaderOptions { HasHeader = true });
        while (reader.Read())
        {
            string Get(string name) => reader.GetString(reader.GetFieldIndex(name)) ?? "";
            double D(string name) => double.Parse(Get(name), CultureInfo.InvariantCulture);
            rows.Add(new MetricsRow(Get("kind"), long.Parse(Get("step"), CultureInfo.InvariantCulture), long.Parse(Get("bytes"), CultureInfo.InvariantCulture),
                D("loss"), D("bits_per_byte"), D("lr"), D("bytes_per_s"), D("mfu"), D("elapsed_s"), Get("split")));
        }
        return rows;
    }

    static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

    static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public void Dispose()
    {
        csv.Dispose();
        stream.Dispose();
    }
}
