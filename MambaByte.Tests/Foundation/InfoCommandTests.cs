using System.Text.Json;
using MambaByte.Train;

namespace MambaByte.Tests.Foundation;

public sealed class InfoCommandTests
{
    [Fact]
    public void Info_reports_versions_cpu_and_the_native_fix()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, Cli.Run(["info", "--json"], output, error));

        using var json = JsonDocument.Parse(output.ToString());
        JsonElement root = json.RootElement;
        Assert.Equal("0.107.0", root.GetProperty("TorchSharpVersion").GetString());
        Assert.EndsWith("/2.10.0", root.GetProperty("LibTorchVersion").GetString());
        Assert.Contains("cpu", root.GetProperty("Devices").EnumerateArray().Select(d => d.GetString()));
        Assert.True(root.GetProperty("TorchThreads").GetInt32() >= 1);
        Assert.Matches("^(applied|not applied|not needed)", root.GetProperty("NativeFix").GetString());
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public void Unknown_command_fails_with_non_zero_exit()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.NotEqual(0, Cli.Run(["no-such-command"], output, error));
    }
}
