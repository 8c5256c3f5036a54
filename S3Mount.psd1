@{
    # The module version lives here and only here: Directory.Build.props reads it for the assemblies.
    ModuleVersion        = '0.1.0'
    GUID                 = '5d0c7a0e-3b1f-4c52-9a57-6f3e2b8d1c44'
    Author               = 'S3Mount contributors'
    CompanyName          = 'S3Mount'
    Copyright            = '(c) S3Mount contributors. Apache-2.0.'
    Description          = 'Installs Mountpoint for Amazon S3 and manages persistent S3 bucket mounts as systemd services, on one Linux node or on EC2 fleets through SSM Run Command.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    RootModule           = 'module/S3Mount.psm1'
    FormatsToProcess     = @('module/S3Mount.format.ps1xml')
    CmdletsToExport      = @(
        'Install-MountpointS3'
        'Export-S3MountBootstrap'
        'Get-MountpointS3'
        'New-S3MountService'
        'Get-S3MountService'
        'Remove-S3MountService'
        'Compare-S3MountService'
        'Sync-S3MountService'
        'Start-S3MountService'
        'Stop-S3MountService'
        'Restart-S3MountService'
        'Enable-S3MountService'
        'Disable-S3MountService'
        'Test-S3MountService'
        'Repair-S3MountService'
        'Get-S3MountIamPolicy'
        'Measure-S3MountThroughput'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('S3', 'Mountpoint', 'mount-s3', 'systemd', 'SSM', 'Linux', 'HPC')
            ProjectUri   = 'https://github.com/s3mount/S3Mount'
            LicenseUri   = 'https://github.com/s3mount/S3Mount/blob/main/LICENSE'
        }
    }
}
