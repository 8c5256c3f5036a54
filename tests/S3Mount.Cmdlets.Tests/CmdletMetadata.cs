using System.Reflection;
using System.Runtime.InteropServices;

namespace S3Mount.Cmdlets.Tests;

/// <summary>The compiled cmdlets read with MetadataLoadContext: nothing of PowerShell is loaded or run.</summary>
public sealed class CmdletMetadata : IDisposable
{
    private readonly MetadataLoadContext _mlc;

    public CmdletMetadata()
    {
        var sma = typeof(CmdletMetadata).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "PowerShellStandard").Value!;
        var paths = Directory.GetFiles(Repo.Lib, "*.dll")
            .Concat(Directory.GetFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll").Where(f => !Path.GetFileName(f).StartsWith("System.Management.Automation", StringComparison.Ordinal)))
            .Append(sma)
            .Append(Path.Combine(Path.GetDirectoryName(sma)!, "..", "..", "..", "..", "netstandard.library", "2.0.3", "build", "netstandard2.0", "ref", "netstandard.dll"))
            .Where(File.Exists)
            .GroupBy(Path.GetFileName).Select(g => g.First());
        _mlc = new MetadataLoadContext(new PathAssemblyResolver(paths), "System.Private.CoreLib");
        Assembly = _mlc.LoadFromAssemblyPath(Path.Combine(Repo.Lib, "S3Mount.dll"));
        Cmdlets = Assembly.GetTypes().Where(t => t.IsPublic && !t.IsAbstract && Attr(t, "CmdletAttribute") is not null).OrderBy(t => t.Name).ToList();
    }

    public Assembly Assembly { get; }

    public IReadOnlyList<Type> Cmdlets { get; }

    public Type Engine(string name) => _mlc.LoadFromAssemblyName("S3Mount.Engine").GetType("S3Mount.Engine." + name, throwOnError: true)!;

    public Type Sma(string name) => _mlc.LoadFromAssemblyName("System.Management.Automation").GetType("System.Management.Automation." + name, throwOnError: true)!;

    public static CustomAttributeData? Attr(MemberInfo m, string name) => m.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.Name == name);

    public static IEnumerable<CustomAttributeData> Attrs(MemberInfo m, string name) => m.GetCustomAttributesData().Where(a => a.AttributeType.Name == name);

    public static object? Named(CustomAttributeData a, string name) => a.NamedArguments.Where(n => n.MemberName == name).Select(n => n.TypedValue.Value).FirstOrDefault();

    /// <summary>Verb-Noun of a cmdlet type.</summary>
    public static string CommandName(Type t)
    {
        var a = Attr(t, "CmdletAttribute")!;
        return a.ConstructorArguments[0].Value + "-" + a.ConstructorArguments[1].Value;
    }

    /// <summary>Parameters of a cmdlet: public properties with [Parameter], inherited ones included.</summary>
    public static IEnumerable<PropertyInfo> Parameters(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => Attrs(p, "ParameterAttribute").Any());

    public void Dispose() => _mlc.Dispose();
}
