# Run in a fresh pwsh by LoadContext.Tests.ps1: loads another build of the AWS SDK into the default load context (as
# AWS.Tools loads its own) before or after S3Mount, then uses S3Mount's fleet cmdlets against the fake SSM with
# credentials made by that other SDK. Prints one JSON line with what happened; the test asserts on it.
param(
    [Parameter(Mandatory)] [ValidateSet('Before', 'After')] [string] $Order,
    [Parameter(Mandatory)] [string] $SdkDirectory,
    [Parameter(Mandatory)] [string] $Manifest,
    [Parameter(Mandatory)] [string] $FakeJson,
    [Parameter(Mandatory)] [string] $MountPath
)
$ErrorActionPreference = 'Stop'
$fake = $FakeJson | ConvertFrom-Json
$report = [ordered]@{}

function Import-OtherSdk {
    # Default context, by path, as a module's own assembly loads: the types come from this copy, never from S3Mount's.
    $script:otherCore = [System.Reflection.Assembly]::LoadFrom((Join-Path $SdkDirectory 'AWSSDK.Core.dll'))
    foreach ($extra in Get-ChildItem -LiteralPath $SdkDirectory -Filter 'AWSSDK.*.dll' | Where-Object Name -NE 'AWSSDK.Core.dll') {
        $null = [System.Reflection.Assembly]::LoadFrom($extra.FullName)
    }
}

if ($Order -eq 'Before') { Import-OtherSdk }
Import-Module $Manifest -ErrorAction Stop
if ($Order -eq 'After') { Import-OtherSdk }

# Credentials of the other SDK: an AWSCredentials for -Credential, and AWS.Tools' AWSPSCredentials wrapper (what
# $StoredAWSCredentials holds: the AWSCredentials in a non-public property) compiled against that SDK.
$basic = $otherCore.GetType('Amazon.Runtime.BasicAWSCredentials', $true)
$credential = $basic.GetConstructor([type[]]@([string], [string])).Invoke(@($fake.AccessKey, $fake.SecretKey))
Add-Type -IgnoreWarnings -ReferencedAssemblies $otherCore.Location -TypeDefinition @'
namespace Amazon.PowerShell.Common
{
    public class AWSPSCredentials
    {
        public AWSPSCredentials(Amazon.Runtime.AWSCredentials credentials, string name) { Credentials = credentials; Name = name; }
        internal Amazon.Runtime.AWSCredentials Credentials { get; private set; }
        internal string Name { get; private set; }
        public override string ToString() { return Name; }
    }
}
'@
$report.OtherSdkVersion = $otherCore.GetName().Version.ToString()
$report.CredentialFromOtherSdk = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($credential.GetType().Assembly).Name


$ssm = @{ EndpointUrl = $fake.Endpoint; Region = $fake.Region }
$errors = @()

# Create through -Credential, list through $StoredAWSCredentials, remove through -AccessKey/-SecretKey.
# The bucket check signs its HeadBucket with the other SDK's credentials too (against the fake S3, as mount-s3 will address it).
$created = @(New-S3MountService -InstanceId $fake.Instances -Bucket genomics-ref -Path $MountPath -ReadOnly @ssm `
        -S3EndpointUrl $fake.S3Endpoint.TrimEnd('/') -ForcePathStyle -Credential $credential -Confirm:$false -WarningAction SilentlyContinue -ErrorVariable +errors -ErrorAction SilentlyContinue)
$report.Created = @($created | ForEach-Object InstanceId | Sort-Object)

$StoredAWSCredentials = [Amazon.PowerShell.Common.AWSPSCredentials]::new($credential, 'other-sdk')
$listed = @(Get-S3MountService -InstanceId $fake.Instances -Path $MountPath @ssm -ErrorVariable +errors -ErrorAction SilentlyContinue)
$report.Listed = @($listed | ForEach-Object InstanceId | Sort-Object)
Remove-Variable StoredAWSCredentials

$listed | Remove-S3MountService @ssm -AccessKey $fake.AccessKey -SecretKey $fake.SecretKey -Confirm:$false -ErrorVariable +errors -ErrorAction SilentlyContinue
$report.Left = @(Get-S3MountService -InstanceId $fake.Instances -Path $MountPath @ssm -Credential $credential -ErrorAction SilentlyContinue).Count

# An s3:// package is presigned on this machine with the AWS SDK (S3Mount's copy) and the other SDK's credentials.
Install-MountpointS3 -PackageS3Uri s3://pkg-bucket/mount-s3/mount-s3.deb -InstanceId $fake.Instances[0] @ssm -Credential $credential -WhatIf -ErrorVariable +whatIfErrors -ErrorAction SilentlyContinue
$report.WhatIfErrors = @($whatIfErrors).Count
$installErrors = @()
Install-MountpointS3 -PackageS3Uri s3://pkg-bucket/mount-s3/mount-s3.deb -InstanceId $fake.Instances[0] @ssm -Credential $credential -Confirm:$false -ErrorVariable +installErrors -ErrorAction SilentlyContinue
$report.InstallErrorIds = @($installErrors | ForEach-Object { ($_.FullyQualifiedErrorId -split ',')[0] })

$report.Errors = @($errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $($_.Exception.Message)" })
$report.DefaultContext = @([System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies | Where-Object { $_.GetName().Name -like 'S3Mount*' -or $_.GetName().Name -like 'AWSSDK.*' } |
        ForEach-Object { "$($_.GetName().Name) $($_.GetName().Version) $($_.Location)" } | Sort-Object)
$report.ModuleContext = @([System.AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name -eq 'S3Mount' } |
        ForEach-Object { $_.GetName().Name } | Sort-Object)
'PROBE ' + ($report | ConvertTo-Json -Compress -Depth 4)
