using System.Text;
using MambaByte.Core.Generation;

namespace MambaByte.Tests.Jobs;

public sealed class Utf8StreamWriterTests
{
    [Fact]
    public void Multi_byte_characters_split_across_steps_are_held_back_until_complete()
    {
        var text = new StringWriter();
        var writer = new Utf8StreamWriter(text);
        byte[] bytes = Encoding.UTF8.GetBytes("aé€😀");   // 1 + 2 + 3 + 4 bytes
        var seen = new List<string>();
        foreach (byte b in bytes)
        {
            writer.Write(b);
            seen.Add(text.ToString());
        }
        // After each byte: only complete characters appear, never a half character or U+FFFD.
        Assert.Equal(["a", "a", "aé", "aé", "aé", "aé€", "aé€", "aé€", "aé€", "aé€😀"], seen);
        writer.Flush();
        Assert.Equal("aé€😀", text.ToString());
    }

    [Fact]
    public void Invalid_bytes_and_a_truncated_final_sequence_become_replacement_characters()
    {
        var text = new StringWriter();
        var writer = new Utf8StreamWriter(text);
        // 0xFF is never valid; 0xC3 followed by 'x' is a truncated 2-byte sequence; 0xE2 0x82 at the end is cut off.
        writer.Write([(byte)'o', 0xFF, (byte)'k', 0xC3, (byte)'x', 0xE2, 0x82]);
        Assert.Equal("o\uFFFDk\uFFFDx", text.ToString());    // the trailing E2 82 is still held back
        writer.Flush();
        Assert.Equal("o\uFFFDk\uFFFDx\uFFFD", text.ToString());
        Assert.Equal(7, writer.BytesWritten);
    }

    [Fact]
    public void Byte_by_byte_streaming_equals_decoding_the_whole_buffer_for_random_bytes()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 200; trial++)
        {
            // Mix valid multi-byte text with random bytes so both paths get exercised.
            byte[] bytes = trial % 2 == 0
                ? Enumerable.Range(0, 40).Select(_ => (byte)random.Next(256)).ToArray()
                : Encoding.UTF8.GetBytes("ß→😀" + (char)random.Next(0x20, 0x7F)).Concat(new[] { (byte)random.Next(0x80, 0x100) }).ToArray();
            var text = new StringWriter();
            var writer = new Utf8StreamWriter(text);
            foreach (byte b in bytes) writer.Write(b);
            writer.Flush();
            Assert.Equal(Encoding.UTF8.GetString(bytes), text.ToString());
        }
    }
}
