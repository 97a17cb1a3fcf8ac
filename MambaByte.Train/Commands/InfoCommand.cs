using System.CommandLine;
using System.Text.Json;
using MambaByte.Core.Native;

namespace MambaByte.Train.Commands;

/// <summary><c>mambabyte info</c>: versions, devices, threads, SIMD, and whether the native-library fix is in the build.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var command = new Command("info", "Show TorchSharp/libtorch versions, devices, threads, SIMD support and the native-library fix") { json };
        command.SetAction(parse =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            RuntimeReport report = RuntimeReport.Collect();
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            output.WriteLine($"mambabyte      {typeof(InfoCommand).Assembly.GetName().Version}");
            output.WriteLine($"TorchSharp     {report.TorchSharpVersion}");
            output.WriteLine($"libtorch       {report.LibTorchVersion}");
            output.WriteLine($"devices        {string.Join(", ", report.Devices)}");
            output.WriteLine($"threads        {report.TorchThreads} torch / {report.ProcessorCount} cores");
            output.WriteLine($"SIMD           {report.Simd}");
            output.WriteLine($"bf16 units     {report.Bf16Units}");
            output.WriteLine($"int8 units     {report.Int8Units}");
            output.WriteLine($"native fix     {report.NativeFix}");
            output.WriteLine($"large blocks   {(report.LargeBlocksFromHeap ? "from the heap (an 80 MB probe on this thread stayed in glibc's arena)" : "mapped one by one and unmapped when freed (allocator default)")}");
            output.WriteLine($"freed memory   {(report.KeepsFreedMemory ? "kept for reuse (glibc mallopt: heap only, no trimming; MAMBABYTE_RELEASE_FREED_MEMORY=1 turns it off)" : "returned to the system (allocator default)")}");
            return 0;
        });
        return command;
    }
}
