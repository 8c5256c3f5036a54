using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using S3Mount.Loader;

namespace S3Mount.Cmdlets.Tests;

[CollectionDefinition("load contexts", DisableParallelization = true)]
public sealed class LoadContextCollection
{
}

/// <summary>
/// What PowerShell 7 does when AWS.Tools (with its own AWSSDK.Core) is imported first and S3Mount second: the
/// default load context already holds another AWSSDK.Core, yet S3Mount's engine gets its own, and nothing of
/// S3Mount's dependencies lands in the default context (so the other import order is just as safe).
/// </summary>
[Collection("load contexts")]
public class LoadContextTests
{
    [Fact]
    public void The_engine_and_its_AWS_SDK_load_beside_another_modules_AWSSDK_Core()
    {
        var other = CompileOtherAwsSdkCore();
        var loadedFirst = AssemblyLoadContext.Default.Assemblies.FirstOrDefault(a => a.GetName().Name == "AWSSDK.Core")
            ?? AssemblyLoadContext.Default.LoadFromStream(new MemoryStream(other));
        Assert.Equal(new Version(3, 3, 0, 0), loadedFirst.GetName().Version);

        var context = DependencyIsolation.Install(Repo.Lib);
        var engine = AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName("S3Mount.Engine"));
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(engine));

        // Engine code that needs AWSSDK.Core (credentials for SigV4) runs against S3Mount's copy.
        var settings = engine.GetType("S3Mount.Engine.Ssm.ResolvedAwsSettings", throwOnError: true)!
            .GetMethod("FromKeys")!.Invoke(null, new object?[] { "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", null, null })!;
        var credentials = settings.GetType().GetProperty("Credentials")!.GetValue(settings)!;
        var sdk = credentials.GetType().Assembly;
        Assert.Equal("AWSSDK.Core", sdk.GetName().Name);
        Assert.Equal(new Version(4, 0, 0, 0), sdk.GetName().Version);
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(sdk));
        Assert.Equal(Path.GetFullPath(Path.Combine(Repo.Lib, "AWSSDK.Core.dll")), sdk.Location);

        // The other module's copy is untouched, and none of S3Mount's dependencies went into the default context.
        Assert.Same(loadedFirst, AssemblyLoadContext.Default.Assemblies.Single(a => a.GetName().Name == "AWSSDK.Core"));
        var ours = AssemblyLoadContext.Default.Assemblies
            .Where(a => !a.IsDynamic && a.Location.StartsWith(Path.GetFullPath(Repo.Lib), StringComparison.Ordinal))
            .Select(a => a.GetName().Name).ToList();
        Assert.DoesNotContain("AWSSDK.Core", ours);
        Assert.DoesNotContain("AWSSDK.S3", ours);
        Assert.DoesNotContain("S3Mount.Engine", ours);
    }

    [Fact]
    public void Runtime_assemblies_come_from_the_default_context()
    {
        var context = DependencyIsolation.Install(Repo.Lib);
        var json = context.LoadFromAssemblyName(new AssemblyName("System.Text.Json"));
        Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(json));
    }

    // A minimal AWSSDK.Core 3.3.0.0, as AWS.Tools 4.x ships it: same name, other version, other API.
    private static byte[] CompileOtherAwsSdkCore()
    {
        var source = "[assembly: System.Reflection.AssemblyVersion(\"3.3.0.0\")] namespace Amazon.Runtime { public abstract class AWSCredentials { public string Legacy => \"3.3\"; } }";
        var refs = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is "System.Runtime.dll" or "System.Private.CoreLib.dll" or "netstandard.dll")
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("AWSSDK.Core", new[] { CSharpSyntaxTree.ParseText(source) }, refs, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        using var ms = new MemoryStream();
        var result = compilation.Emit(ms);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        return ms.ToArray();
    }
}
