using System.Text;

namespace MambaByte.Tests.Support;

/// <summary>
/// Builds a minimal 64-bit little-endian ELF holding only a string table, a .gnu.version_r (what it needs) and
/// a .gnu.version_d (what it defines), so the version-need logic can be tested on files whose bytes we control.
/// </summary>
public static class SyntheticElf
{
    public static byte[] Build(string neededFrom, IReadOnlyList<string> needs, IReadOnlyList<string> defines)
    {
        var strings = new MemoryStream();
        strings.WriteByte(0);
        int AddString(string s)
        {
            int at = (int)strings.Position;
            strings.Write(Encoding.ASCII.GetBytes(s));
            strings.WriteByte(0);
            return at;
        }

        int fileName = AddString(neededFrom);
        int[] needNames = needs.Select(AddString).ToArray();
        int[] defNames = defines.Select(AddString).ToArray();

        var verneed = new MemoryStream();
        var w = new BinaryWriter(verneed);
        w.Write((ushort)1); w.Write((ushort)needs.Count); w.Write(fileName); w.Write(16u); w.Write(0u);
        for (int i = 0; i < needs.Count; i++)
        {
            w.Write(0x0u); w.Write((ushort)0); w.Write((ushort)(i + 2)); w.Write(needNames[i]); w.Write(i + 1 < needs.Count ? 16u : 0u);
        }

        var verdef = new MemoryStream();
        w = new BinaryWriter(verdef);
        for (int i = 0; i < defines.Count; i++)
        {
            w.Write((ushort)1); w.Write((ushort)0); w.Write((ushort)(i + 1)); w.Write((ushort)1); w.Write(0u); w.Write(20u);
            w.Write(i + 1 < defines.Count ? 28u : 0u);
            w.Write(defNames[i]); w.Write(0u);
        }

        byte[] str = strings.ToArray(), need = verneed.ToArray(), def = verdef.ToArray();
        long strAt = 64, needAt = strAt + str.Length, defAt = needAt + need.Length, shAt = defAt + def.Length;
        var elf = new MemoryStream();
        w = new BinaryWriter(elf);
        w.Write(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 });
        w.Write((ushort)3); w.Write((ushort)62); w.Write(1u); w.Write(0UL); w.Write(0UL); w.Write((ulong)shAt);
        w.Write(0u); w.Write((ushort)64); w.Write((ushort)0); w.Write((ushort)0); w.Write((ushort)64); w.Write((ushort)4); w.Write((ushort)0);
        w.Write(str); w.Write(need); w.Write(def);
        void Section(uint type, long offset, long size, uint link, uint info)
        {
            w.Write(0u); w.Write(type); w.Write(0UL); w.Write(0UL); w.Write((ulong)offset); w.Write((ulong)size);
            w.Write(link); w.Write(info); w.Write(8UL); w.Write(0UL);
        }
        Section(0, 0, 0, 0, 0);
        Section(3, strAt, str.Length, 0, 0);
        Section(0x6ffffffe, needAt, need.Length, 1, needs.Count > 0 ? 1u : 0u);
        Section(0x6ffffffd, defAt, def.Length, 1, (uint)defines.Count);
        return elf.ToArray();
    }
}
